/**
 * A transition's condition as a form and back. The form holds every kind's
 * fields at once, so switching kinds in the editor loses nothing typed; only the
 * chosen kind's fields go into the definition. Forms the registry reads:
 * unset or "always"; "parameter:<name>" or {type: "parameter", parameter};
 * {type: "expression", config: {source, operator, value}}; {type: "cel", expr};
 * {type: "plugin", plugin, config}, or a `type` naming a condition plugin.
 */
import type { JsonObject, JsonValue } from "./forms";

export const CONDITION_KINDS = ["always", "parameter", "expression", "cel", "plugin"] as const;
export type ConditionKind = (typeof CONDITION_KINDS)[number];

/** The expression operators, by their canonical names, with how people read them. */
export const OPERATORS: ReadonlyArray<[string, string]> = [
  ["equals", "=="],
  ["not_equals", "!="],
  ["gt", ">"],
  ["gte", ">="],
  ["lt", "<"],
  ["lte", "<="],
  ["in", "in"],
  ["not_in", "not in"],
  ["contains", "contains"],
  ["exists", "exists"],
  ["matches", "matches"],
];
const SYMBOLS: Record<string, string> = { "==": "equals", "!=": "not_equals", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte" };

export interface ConditionForm {
  kind: ConditionKind;
  parameter: string;
  source: string;
  operator: string;
  /** The value as typed: JSON (5, true, "x", [1, 2]) or plain text, which is sent as a string. */
  value: string;
  expr: string;
  plugin: string;
  config: JsonObject;
}

export const EMPTY_FORM: ConditionForm = {
  kind: "always",
  parameter: "",
  source: "",
  operator: "equals",
  value: "",
  expr: "",
  plugin: "",
  config: {},
};

function asObject(value: unknown): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

/** How a value is shown in the value box: plain text for a string that does not read as JSON, else JSON. */
export function valueText(value: JsonValue | undefined): string {
  if (value === undefined) {
    return "";
  }
  if (typeof value === "string") {
    try {
      JSON.parse(value);
      return JSON.stringify(value); // "5" stays a string only when quoted
    } catch {
      return value;
    }
  }
  return JSON.stringify(value);
}

/** The value a value box stands for: JSON when it parses, else the text as a string. */
export function parseValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** The form for a condition as the definition holds it (absent means always). */
export function formOf(condition: JsonValue | undefined): ConditionForm {
  if (condition === undefined || condition === null || condition === "always" || condition === "") {
    return { ...EMPTY_FORM };
  }
  if (typeof condition === "string") {
    if (condition.startsWith("parameter:")) {
      return { ...EMPTY_FORM, kind: "parameter", parameter: condition.slice("parameter:".length).trim() };
    }
    // Anything else the registry reports; keep it as CEL so it can be seen and fixed.
    return { ...EMPTY_FORM, kind: "cel", expr: condition };
  }
  const object = asObject(condition);
  const config = asObject(object.config);
  const type = typeof object.type === "string" ? object.type : "";
  switch (type) {
    case "":
    case "always":
      return { ...EMPTY_FORM };
    case "parameter":
      return { ...EMPTY_FORM, kind: "parameter", parameter: String(object.parameter ?? config.parameter ?? "") };
    case "expression": {
      const operator = typeof config.operator === "string" ? (SYMBOLS[config.operator] ?? config.operator) : "equals";
      return {
        ...EMPTY_FORM,
        kind: "expression",
        source: String(config.source ?? ""),
        operator,
        value: valueText(config.value),
      };
    }
    case "cel":
      return { ...EMPTY_FORM, kind: "cel", expr: String(object.expr ?? "") };
    case "plugin":
      return { ...EMPTY_FORM, kind: "plugin", plugin: String(object.plugin ?? ""), config };
    default:
      // A type naming a condition plugin.
      return { ...EMPTY_FORM, kind: "plugin", plugin: type, config };
  }
}

export interface ConditionProblem {
  /** The form field at fault: "parameter", "source", "operator", "expr" or "plugin". */
  field: keyof ConditionForm;
  message: string;
}

/** The condition a form stands for (undefined for always), or what is missing. */
export function conditionOf(form: ConditionForm): { condition?: JsonObject; problem?: ConditionProblem } {
  switch (form.kind) {
    case "always":
      return {};
    case "parameter":
      return form.parameter.trim()
        ? { condition: { type: "parameter", parameter: form.parameter.trim() } }
        : { problem: { field: "parameter", message: "choose the parameter to test" } };
    case "expression": {
      if (!form.source.trim()) {
        return { problem: { field: "source", message: "give what to test, e.g. result.score or parameters.limit" } };
      }
      if (!OPERATORS.some(([name]) => name === form.operator)) {
        return { problem: { field: "operator", message: `unknown operator “${form.operator}”` } };
      }
      const config: JsonObject = { source: form.source.trim(), operator: form.operator };
      if (form.operator !== "exists") {
        config.value = parseValue(form.value);
      }
      return { condition: { type: "expression", config } };
    }
    case "cel":
      return form.expr.trim()
        ? { condition: { type: "cel", expr: form.expr.trim() } }
        : { problem: { field: "expr", message: "write the CEL expression, e.g. result.approved == true" } };
    case "plugin": {
      if (!form.plugin.trim()) {
        return { problem: { field: "plugin", message: "choose the condition plugin" } };
      }
      const condition: JsonObject = { type: "plugin", plugin: form.plugin.trim() };
      if (Object.keys(form.config).length > 0) {
        condition.config = form.config;
      }
      return { condition };
    }
  }
}

/** A condition in a few words, for the transition list and the graph. */
export function describeCondition(condition: JsonValue | undefined): string {
  const form = formOf(condition);
  switch (form.kind) {
    case "always":
      return "always";
    case "parameter":
      return `if parameter ${form.parameter}`;
    case "expression": {
      const symbol = OPERATORS.find(([name]) => name === form.operator)?.[1] ?? form.operator;
      return form.operator === "exists" ? `if ${form.source} exists` : `if ${form.source} ${symbol} ${form.value}`;
    }
    case "cel":
      return `if ${form.expr}`;
    case "plugin":
      return `if plugin ${form.plugin}`;
  }
}
