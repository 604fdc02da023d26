/** A config edited as a form from its JSON Schema, with the whole config as JSON beside it. */
import { useEffect, useMemo, useState } from "react";
import { configFields, configValues, configWith } from "./configForm";
import type { FormValues, JsonObject } from "./forms";
import { SchemaForm } from "./SchemaForm";

interface Props {
  idPrefix: string;
  /** The plugin's config schema; without one only the JSON box is shown. */
  schema: JsonObject | undefined;
  config: JsonObject;
  onChange: (config: JsonObject) => void;
  /** Problems to show on fields, from the last check. */
  errors?: Record<string, string>;
}

export function ConfigForm({ idPrefix, schema, config, onChange, errors = {} }: Props) {
  const fields = useMemo(() => configFields(schema), [schema]);
  const [values, setValues] = useState<FormValues>(() => configValues(fields, config));
  const shown = JSON.stringify(config, null, 2);
  const [text, setText] = useState(shown);
  const [jsonError, setJsonError] = useState<string | null>(null);

  // The config changed from outside the JSON box (a field, or a new plugin): show it.
  useEffect(() => {
    setText(shown);
    setJsonError(null);
    setValues(configValues(fields, JSON.parse(shown) as JsonObject));
  }, [shown, fields]);

  const applyText = () => {
    try {
      const parsed = JSON.parse(text || "{}");
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        setJsonError("the config must be a JSON object");
        return;
      }
      setJsonError(null);
      onChange(parsed as JsonObject);
    } catch (e) {
      setJsonError(`not JSON: ${(e as Error).message}`);
    }
  };

  return (
    <div className="config-form" data-testid="config-form">
      {fields.length > 0 && (
        <SchemaForm
          idPrefix={idPrefix}
          fields={fields}
          values={values}
          errors={errors}
          onChange={(next, changed) => {
            setValues(next);
            onChange(configWith(config, fields, next, changed));
          }}
        />
      )}
      <div className="field">
        <label htmlFor={`${idPrefix}-json`}>{fields.length > 0 ? "Config as JSON (every key)" : "Config (JSON)"}</label>
        <textarea
          id={`${idPrefix}-json`}
          className="code"
          rows={Math.min(10, Math.max(3, text.split("\n").length))}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onBlur={applyText}
          aria-invalid={!!jsonError}
          aria-describedby={jsonError ? `${idPrefix}-json-error` : undefined}
          spellCheck={false}
        />
        {jsonError && (
          <div className="field-error" id={`${idPrefix}-json-error`} role="alert">
            {jsonError}
          </div>
        )}
      </div>
    </div>
  );
}
