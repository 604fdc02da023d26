/**
 * A plugin's config as a form built from its config schema. Scalar properties
 * (text, numbers, booleans, choices) become fields; objects and arrays are left
 * to the JSON box next to the form, and any key the schema does not list is kept.
 */
import { checkForm, fieldsFromSchema, initialValues, type Field, type FormValues, type JsonObject } from "./forms";

function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

/** The fields of the schema's scalar properties. */
export function configFields(schema: unknown): Field[] {
  const properties = asObject(asObject(schema).properties);
  return fieldsFromSchema(schema).filter((field) => {
    const type = asObject(properties[field.name]).type;
    return type !== "object" && type !== "array";
  });
}

/** The form's starting values from a config. */
export function configValues(fields: Field[], config: JsonObject): FormValues {
  // Schema defaults are not filled in: a field left alone stays out of the config.
  return initialValues(
    fields.map((f) => ({ ...f, default: undefined })),
    config,
  );
}

/**
 * The config after one field changed: its checked value, or no key when it was
 * emptied. A value that does not check yet (half-typed) leaves the config as it was.
 */
export function configWith(config: JsonObject, fields: Field[], values: FormValues, changed: string): JsonObject {
  const field = fields.find((f) => f.name === changed);
  if (!field) {
    return config;
  }
  const raw = values[changed];
  const next = { ...config };
  if (field.widget !== "checkbox" && (raw === "" || raw === undefined)) {
    delete next[changed];
    return next;
  }
  const { data, errors } = checkForm([{ ...field, required: false }], values);
  if (errors[changed]) {
    return config;
  }
  if (changed in data) {
    next[changed] = data[changed];
  }
  return next;
}

/** What is wrong with a config as the schema's fields see it, by field name. */
export function configProblems(fields: Field[], config: JsonObject): Record<string, string> {
  return checkForm(fields, configValues(fields, config)).errors;
}
