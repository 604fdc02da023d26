/** Starting a run: a form built from the pipeline's parameter_specs, defaults from its parameters. */
import { useEffect, useMemo, useState } from "react";
import type { Pipeline } from "@ia-modules/sdk";
import { client, definitionJson } from "../api";
import {
  checkForm,
  fieldsFromSchema,
  initialValues,
  parameterSchema,
  withoutError,
  type FormValues,
  type JsonObject,
} from "../forms";
import { SchemaForm } from "../SchemaForm";
import { ErrorBox, Section, navigate } from "../ui";

export function StartRunPage({ name }: { name: string }) {
  const [pipeline, setPipeline] = useState<Pipeline>();
  const [values, setValues] = useState<FormValues>({});
  const [extra, setExtra] = useState("{}");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [starting, setStarting] = useState(false);

  const fields = useMemo(
    () =>
      fieldsFromSchema(
        parameterSchema(
          (pipeline?.parameterSpecs ?? []).map((s) => ({ ...s, schema: s.schema as JsonObject | undefined })),
        ),
      ),
    [pipeline],
  );

  useEffect(() => {
    client
      .getPipeline(name)
      .then((version) => {
        const definition = version.definition;
        setPipeline(definition);
        const defaults = (definition?.parameters ?? {}) as JsonObject;
        const specNames = new Set(definition?.parameterSpecs.map((s) => s.name));
        const specFields = fieldsFromSchema(
          parameterSchema((definition?.parameterSpecs ?? []).map((s) => ({ ...s, schema: s.schema as JsonObject | undefined }))),
        );
        setValues(initialValues(specFields, defaults));
        // Parameters without a spec are edited as JSON.
        const rest = Object.fromEntries(Object.entries(defaults).filter(([k]) => !specNames.has(k)));
        setExtra(JSON.stringify(rest, null, 2));
      })
      .catch(setError);
  }, [name]);

  const start = async () => {
    const checked = checkForm(fields, values);
    let rest: JsonObject = {};
    try {
      rest = JSON.parse(extra || "{}");
    } catch (e) {
      checked.errors["__extra"] = `Other parameters: not JSON (${(e as Error).message})`;
    }
    setErrors(checked.errors);
    if (Object.keys(checked.errors).length) {
      return;
    }
    setStarting(true);
    try {
      const run = await client.startRun({ pipeline: name, inputs: { ...rest, ...checked.data } });
      navigate(`/runs/${run.runId}`);
    } catch (e) {
      setError(e);
    } finally {
      setStarting(false);
    }
  };

  return (
    <Section title={`Run ${name}`}>
      <ErrorBox error={error} />
      {pipeline && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          {pipeline.description && <p className="muted">{pipeline.description}</p>}
          <SchemaForm idPrefix="param" fields={fields} values={values} errors={errors} onChange={(next, changed) => {
              setValues(next);
              setErrors((e) => withoutError(e, changed));
            }}
          />
          {(fields.length === 0 || extra.trim() !== "{}") && (
            <div className={`field${errors.__extra ? " invalid" : ""}`}>
              <label htmlFor="extra-parameters">{fields.length ? "Other parameters (JSON)" : "Parameters (JSON)"}</label>
              <textarea id="extra-parameters" rows={5} value={extra} onChange={(e) => setExtra(e.target.value)} />
              {errors.__extra && <div className="field-error">{errors.__extra}</div>}
            </div>
          )}
          <button className="primary" type="submit" disabled={starting}>
            {starting ? "Starting…" : "Start run"}
          </button>
          <details>
            <summary>Definition</summary>
            <pre className="json">{JSON.stringify(definitionJson(pipeline), null, 2)}</pre>
          </details>
        </form>
      )}
    </Section>
  );
}
