/** Renders the fields of forms.ts; the caller checks and sends the values. */
import type { Field, FormValues } from "./forms";

interface Props {
  idPrefix: string;
  fields: Field[];
  values: FormValues;
  errors: Record<string, string>;
  /** Gets the new values and the field that changed, whose error is then stale. */
  onChange: (values: FormValues, changed: string) => void;
}

export function SchemaForm({ idPrefix, fields, values, errors, onChange }: Props) {
  const set = (name: string, value: string | boolean) => onChange({ ...values, [name]: value }, name);
  return (
    <div className="form-fields">
      {fields.map((field) => {
        const id = `${idPrefix}-${field.name}`;
        const error = errors[field.name];
        const describedBy = error ? `${id}-error` : field.description ? `${id}-help` : undefined;
        const label = (
          <>
            {field.label}
            {field.required && <span className="required" aria-hidden="true"> *</span>}
          </>
        );
        let control;
        if (field.widget === "radio") {
          control = (
            <fieldset className="radio-group" aria-describedby={describedBy} aria-invalid={!!error}>
              <legend>{label}</legend>
              {field.choices.map((choice, i) => (
                <label key={i} className="inline">
                  <input
                    type="radio"
                    name={id}
                    value={String(i)}
                    checked={values[field.name] === String(i)}
                    onChange={() => set(field.name, String(i))}
                  />
                  {choice.label}
                </label>
              ))}
            </fieldset>
          );
        } else if (field.widget === "checkbox") {
          control = (
            <label className="inline" htmlFor={id}>
              <input
                id={id}
                type="checkbox"
                checked={values[field.name] === true}
                onChange={(e) => set(field.name, e.target.checked)}
                aria-describedby={describedBy}
              />
              {label}
            </label>
          );
        } else {
          const common = {
            id,
            name: field.name,
            value: String(values[field.name] ?? ""),
            "aria-invalid": !!error,
            "aria-describedby": describedBy,
            "aria-required": field.required,
          };
          control = (
            <>
              <label htmlFor={id}>{label}</label>
              {field.widget === "select" ? (
                <select {...common} onChange={(e) => set(field.name, e.target.value)}>
                  <option value="">Choose…</option>
                  {field.choices.map((choice, i) => (
                    <option key={i} value={String(i)}>
                      {choice.label}
                    </option>
                  ))}
                </select>
              ) : field.widget === "textarea" ? (
                <textarea {...common} rows={4} onChange={(e) => set(field.name, e.target.value)} />
              ) : (
                <input
                  {...common}
                  type="text"
                  inputMode={field.widget === "number" ? "decimal" : undefined}
                  onChange={(e) => set(field.name, e.target.value)}
                />
              )}
            </>
          );
        }
        return (
          <div key={field.name} className={`field${error ? " invalid" : ""}`} data-field={field.name}>
            {control}
            {field.description && !error && (
              <div id={`${id}-help`} className="muted small">
                {field.description}
              </div>
            )}
            {error && (
              <div id={`${id}-error`} className="field-error">
                {error}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}
