/**
 * Starting a run: a form built from the pipeline's parameter_specs, defaults from its
 * parameters. Under "Debug this run", steps to pause before (clicked on the graph,
 * each with an optional CEL condition) and steps to mock (a canned JSON output).
 */
import { useEffect, useMemo, useState } from "react";
import type { Pipeline } from "@ia-modules/sdk";
import { asIAError, client, definitionJson } from "../api";
import { NO_DEBUG, debugRequest, isDebugged, violationsByStep, type StepDebug } from "../debugging";
import { layout } from "../graph";
import { GraphView } from "../GraphView";
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
  const [debug, setDebug] = useState<Record<string, StepDebug>>({});
  const [debugErrors, setDebugErrors] = useState<Record<string, string>>({});
  const stepIds = useMemo(() => (pipeline?.steps ?? []).map((s) => s.id), [pipeline]);
  const graph = useMemo(() => layout({ steps: pipeline?.steps ?? [], flow: pipeline?.flow }), [pipeline]);
  const debugged = isDebugged(debug);
  const settingsOf = (id: string) => debug[id] ?? NO_DEBUG;
  const change = (id: string, patch: Partial<StepDebug>) => {
    setDebug((d) => ({ ...d, [id]: { ...(d[id] ?? NO_DEBUG), ...patch } }));
    setDebugErrors((e) => withoutError(e, id));
  };

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
    const request = debugRequest(stepIds, debug);
    setErrors(checked.errors);
    setDebugErrors(request.errors);
    if (Object.keys(checked.errors).length || Object.keys(request.errors).length) {
      return;
    }
    setStarting(true);
    setError(undefined);
    const inputs = { ...rest, ...checked.data };
    try {
      const run = debugged
        ? (
            await client.executor.startRun({
              pipeline: { case: "pipelineName", value: name },
              inputs,
              breakpoints: request.breakpoints,
              mocks: request.mocks,
            })
          ).run
        : await client.startRun({ pipeline: name, inputs });
      if (run) {
        navigate(`/runs/${run.runId}`);
      }
    } catch (e) {
      setError(e);
      setDebugErrors(violationsByStep(asIAError(e).fieldViolations, request.breakpoints));
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
          <details className="debug" data-testid="debug-settings">
            <summary>Debug this run: breakpoints and mocks</summary>
            <p className="muted small">
              Click a step to pause before it (a condition in CEL over <code>input</code>, <code>parameters</code>,{" "}
              <code>steps</code> and <code>run</code> pauses only when it holds). A mocked step completes with the JSON
              object you give, without running. On the graph, a breakpoint has an orange border, a mock a dashed one.
            </p>
            <GraphView
              graph={graph}
              label="Click a step to set or clear a breakpoint before it"
              start={pipeline.flow?.startAt}
              stateOf={(id) => (settingsOf(id).breakpoint ? "BREAKPOINT" : settingsOf(id).mocked ? "MOCKED" : undefined)}
              onSelect={(id) => change(id, { breakpoint: !settingsOf(id).breakpoint })}
            />
            <div className="debug-steps">
              {stepIds.map((id) => {
                const step = settingsOf(id);
                return (
                  <div key={id} className={`debug-step${debugErrors[id] ? " invalid" : ""}`} data-debug-step={id}>
                    <code>{id}</code>
                    <label className="inline">
                      <input
                        type="checkbox"
                        id={`break-${id}`}
                        checked={step.breakpoint}
                        onChange={(e) => change(id, { breakpoint: e.target.checked })}
                      />{" "}
                      Break before
                    </label>
                    <input
                      type="text"
                      id={`break-condition-${id}`}
                      aria-label={`Break at ${id} only when (CEL)`}
                      placeholder="only when (CEL), e.g. input.n > 10"
                      value={step.condition}
                      disabled={!step.breakpoint}
                      onChange={(e) => change(id, { condition: e.target.value })}
                    />
                    <label className="inline">
                      <input
                        type="checkbox"
                        id={`mock-${id}`}
                        checked={step.mocked}
                        onChange={(e) => change(id, { mocked: e.target.checked })}
                      />{" "}
                      Mock
                    </label>
                    {step.mocked && (
                      <textarea
                        id={`mock-output-${id}`}
                        aria-label={`Mock output of ${id} (a JSON object)`}
                        rows={3}
                        spellCheck={false}
                        value={step.mock}
                        onChange={(e) => change(id, { mock: e.target.value })}
                      />
                    )}
                    {debugErrors[id] && <div className="field-error">{debugErrors[id]}</div>}
                  </div>
                );
              })}
            </div>
          </details>
          <button className="primary" type="submit" disabled={starting}>
            {starting ? "Starting…" : debugged ? "Start in the debugger" : "Start run"}
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
