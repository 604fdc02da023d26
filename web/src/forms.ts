/**
 * Forms from JSON Schema: the ui_schema of a human-input task, and a pipeline's
 * parameter_specs. Pure functions, so the rules are tested without a browser.
 *
 * Widgets: string -> text (or textarea with `ui:widget: textarea`), enum -> select
 * (or radio with `ui:widget: radio`), boolean -> checkbox (or yes/no radio with
 * `ui:widget: radio`), number/integer -> number.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type Widget = "text" | "textarea" | "radio" | "select" | "checkbox" | "number";

export interface Choice {
  label: string;
  value: JsonValue;
}

export interface Field {
  name: string;
  label: string;
  description?: string;
  widget: Widget;
  /** The JSON type the value is sent as. */
  type: "string" | "number" | "integer" | "boolean" | "enum";
  required: boolean;
  choices: Choice[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  default?: JsonValue;
}

/**
 * What the inputs hold: text for text and number fields, the index of the chosen
 * option ("" for none) for radio and select, a boolean for a checkbox.
 */
export type FormValues = Record<string, string | boolean>;

export interface Checked {
  /** The values as the service expects them; only meaningful when `errors` is empty. */
  data: JsonObject;
  /** A readable problem per field name. */
  errors: Record<string, string>;
}

function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

function asNumber(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/**
 * One field per property of an object schema. A google.protobuf.Struct keeps no key
 * order, so the order is `ui:order` when given ("*" stands for the rest), else the
 * required fields as listed, then the others by name.
 */
export function fieldsFromSchema(schema: unknown): Field[] {
  const root = asObject(schema);
  const requiredList = Array.isArray(root.required) ? root.required.map(String) : [];
  const required = new Set(requiredList);
  const properties = asObject(root.properties);
  const names = Object.keys(properties);
  const rest = names.filter((n) => !required.has(n)).sort();
  let order = [...requiredList.filter((n) => n in properties), ...rest];
  if (Array.isArray(root["ui:order"])) {
    const listed = root["ui:order"].map(String).filter((n) => n === "*" || n in properties);
    const unlisted = order.filter((n) => !listed.includes(n));
    order = listed.flatMap((n) => (n === "*" ? unlisted : [n]));
    if (!listed.includes("*")) {
      order.push(...unlisted);
    }
  }
  return order.map((name) => fieldFrom(name, asObject(properties[name]), required.has(name)));
}

function fieldFrom(name: string, property: JsonObject, required: boolean): Field {
  const hint = typeof property["ui:widget"] === "string" ? property["ui:widget"] : undefined;
  const field: Field = {
    name,
    label: typeof property.title === "string" && property.title ? property.title : name,
    description: typeof property.description === "string" ? property.description : undefined,
    widget: "text",
    type: "string",
    required,
    choices: [],
    minimum: asNumber(property.minimum),
    maximum: asNumber(property.maximum),
    minLength: asNumber(property.minLength),
    maxLength: asNumber(property.maxLength),
    pattern: typeof property.pattern === "string" ? property.pattern : undefined,
    default: property.default,
  };
  if (Array.isArray(property.enum)) {
    const titles = Array.isArray(property.enumNames) ? property.enumNames : [];
    field.type = "enum";
    field.widget = hint === "radio" ? "radio" : "select";
    field.choices = property.enum.map((value, i) => ({ label: String(titles[i] ?? value), value }));
  } else if (property.type === "boolean") {
    field.type = "boolean";
    field.widget = hint === "radio" ? "radio" : "checkbox";
    if (field.widget === "radio") {
      field.choices = [
        { label: "Yes", value: true },
        { label: "No", value: false },
      ];
    }
  } else if (property.type === "number" || property.type === "integer") {
    field.type = property.type;
    field.widget = "number";
  } else {
    field.widget = hint === "textarea" ? "textarea" : "text";
  }
  return field;
}

/** The inputs' starting values: `defaults` first, then each schema default. */
export function initialValues(fields: Field[], defaults: JsonObject = {}): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    const start = field.name in defaults ? defaults[field.name] : field.default;
    if (field.widget === "checkbox") {
      values[field.name] = start === true;
    } else if (field.widget === "radio" || field.widget === "select") {
      const index = field.choices.findIndex((c) => JSON.stringify(c.value) === JSON.stringify(start));
      values[field.name] = index >= 0 ? String(index) : "";
    } else {
      values[field.name] =
        start === undefined || start === null ? "" : typeof start === "string" ? start : JSON.stringify(start);
    }
  }
  return values;
}

/** The errors left once a field changed: its own is stale until the next check. */
export function withoutError(errors: Record<string, string>, changed: string): Record<string, string> {
  if (!(changed in errors)) {
    return errors;
  }
  const rest = { ...errors };
  delete rest[changed];
  return rest;
}

/** Checks every field as the schema says and builds the data to send. */
export function checkForm(fields: Field[], values: FormValues): Checked {
  const data: JsonObject = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const raw = values[field.name];
    if (field.widget === "checkbox") {
      data[field.name] = raw === true;
      continue;
    }
    if (raw === undefined || raw === "" || raw === false) {
      if (field.required) {
        errors[field.name] = field.choices.length ? `${field.label}: choose one` : `${field.label} is required`;
      }
      continue;
    }
    const problem = checkValue(field, String(raw));
    if (typeof problem === "string") {
      errors[field.name] = `${field.label}: ${problem}`;
    } else {
      data[field.name] = problem.value;
    }
  }
  return { data, errors };
}

function checkValue(field: Field, raw: string): string | { value: JsonValue } {
  if (field.widget === "radio" || field.widget === "select") {
    const choice = field.choices[Number(raw)];
    return choice ? { value: choice.value } : "not one of the choices";
  }
  if (field.widget === "number") {
    const value = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(value)) {
      return "must be a number";
    }
    if (field.type === "integer" && !Number.isInteger(value)) {
      return "must be a whole number";
    }
    if (field.minimum !== undefined && value < field.minimum) {
      return `must be at least ${field.minimum}`;
    }
    if (field.maximum !== undefined && value > field.maximum) {
      return `must be at most ${field.maximum}`;
    }
    return { value };
  }
  if (field.minLength !== undefined && raw.length < field.minLength) {
    return `must be at least ${field.minLength} characters`;
  }
  if (field.maxLength !== undefined && raw.length > field.maxLength) {
    return `must be at most ${field.maxLength} characters`;
  }
  if (field.pattern !== undefined && !safePattern(field.pattern).test(raw)) {
    return `must match ${field.pattern}`;
  }
  return { value: raw };
}

function safePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, "u");
  } catch {
    // A pattern the browser cannot read is left to the service to check.
    return /[\s\S]*/;
  }
}

export interface ParameterSpecLike {
  name: string;
  description: string;
  required: boolean;
  schema?: JsonObject;
}

/** A pipeline's parameter_specs as one object schema, so the same form renders them. */
export function parameterSchema(specs: ParameterSpecLike[]): JsonObject {
  const properties: JsonObject = {};
  for (const spec of specs) {
    properties[spec.name] = { ...(spec.schema ?? {}), ...(spec.description ? { description: spec.description } : {}) };
  }
  return {
    type: "object",
    properties,
    required: specs.filter((s) => s.required).map((s) => s.name),
    // parameter_specs is a list: its order is the author's.
    "ui:order": specs.map((s) => s.name),
  };
}
