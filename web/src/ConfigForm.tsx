/** A config edited as a form from its JSON Schema, with the whole config as JSON beside it. */
import { useEffect, useMemo, useRef, useState } from "react";
import { configFields, configValues, configWith } from "./configForm";
import { withoutError, type FormValues, type JsonObject } from "./forms";
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
  // What the JSON box itself last sent, so that its text is not reformatted while being typed.
  const sent = useRef<string | null>(null);
  // A field's error goes once the field is changed, until the next check.
  const [shownErrors, setShownErrors] = useState(errors);
  useEffect(() => setShownErrors(errors), [errors]);

  // The config changed from outside the JSON box (a field, or a new plugin): show it.
  useEffect(() => {
    if (sent.current === shown) {
      setValues(configValues(fields, JSON.parse(shown) as JsonObject));
      return;
    }
    setText(shown);
    setJsonError(null);
    setValues(configValues(fields, JSON.parse(shown) as JsonObject));
  }, [shown, fields]);

  // Each edit that parses to an object goes out at once; what does not is reported when focus leaves.
  const readText = (value: string): string | null => {
    try {
      const parsed = JSON.parse(value || "{}");
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return "the config must be a JSON object";
      }
      sent.current = JSON.stringify(parsed, null, 2);
      setJsonError(null);
      onChange(parsed as JsonObject);
      return null;
    } catch (e) {
      return `not JSON: ${(e as Error).message}`;
    }
  };

  return (
    <div className="config-form" data-testid="config-form">
      {fields.length > 0 && (
        <SchemaForm
          idPrefix={idPrefix}
          fields={fields}
          values={values}
          errors={shownErrors}
          onChange={(next, changed) => {
            setValues(next);
            setShownErrors((e) => withoutError(e, changed));
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
          onChange={(e) => {
            setText(e.target.value);
            readText(e.target.value);
          }}
          onBlur={() => setJsonError(readText(text))}
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
