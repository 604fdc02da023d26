import { describe, expect, it } from "vitest";
import { conditionOf, describeCondition, formOf, parseValue, valueText } from "../src/conditionForm";
import { configFields, configProblems, configValues, configWith } from "../src/configForm";
import { addStep, setCondition, setStepConfig, transitionsOf } from "../src/definitionGraph";
import type { JsonObject, JsonValue } from "../src/forms";

describe("condition form", () => {
  const roundTrips: JsonObject[] = [
    { type: "parameter", parameter: "notify" },
    { type: "expression", config: { source: "result.score", operator: "gte", value: 0.8 } },
    { type: "expression", config: { source: "result.tags", operator: "contains", value: "urgent" } },
    { type: "expression", config: { source: "result.note", operator: "exists" } },
    { type: "expression", config: { source: "result.code", operator: "equals", value: "5" } },
    { type: "expression", config: { source: "result.x", operator: "in", value: [1, 2] } },
    { type: "cel", expr: "result.approved == true" },
    { type: "plugin", plugin: "time_window", config: { start: "09:00", end: "17:00" } },
  ];

  it.each(roundTrips)("reads and writes %j unchanged", (condition) => {
    expect(conditionOf(formOf(condition)).condition).toEqual(condition);
  });

  it("reads the other forms the registry accepts", () => {
    for (const always of [undefined, null, "always", { type: "always" }]) {
      expect(formOf(always as JsonValue).kind).toBe("always");
      expect(conditionOf(formOf(always as JsonValue))).toEqual({});
    }
    expect(conditionOf(formOf("parameter:dry_run")).condition).toEqual({ type: "parameter", parameter: "dry_run" });
    expect(formOf({ type: "expression", config: { source: "a", operator: ">=", value: 1 } }).operator).toBe("gte");
    expect(conditionOf(formOf({ type: "business_hours", config: { timezone: "UTC" } })).condition).toEqual({
      type: "plugin",
      plugin: "business_hours",
      config: { timezone: "UTC" },
    });
  });

  it("names the missing field instead of writing a broken condition", () => {
    const base = formOf(undefined);
    expect(conditionOf({ ...base, kind: "parameter" }).problem?.field).toBe("parameter");
    expect(conditionOf({ ...base, kind: "expression" }).problem?.field).toBe("source");
    expect(conditionOf({ ...base, kind: "expression", source: "a", operator: "like" }).problem?.message).toMatch(/like/);
    expect(conditionOf({ ...base, kind: "cel", expr: "  " }).problem?.field).toBe("expr");
    expect(conditionOf({ ...base, kind: "plugin" }).problem?.field).toBe("plugin");
  });

  it("keeps a value's JSON type, and plain text as a string", () => {
    expect(parseValue("0.8")).toBe(0.8);
    expect(parseValue("urgent")).toBe("urgent");
    expect(parseValue('"5"')).toBe("5");
    expect(valueText("5")).toBe('"5"');
    expect(valueText("urgent")).toBe("urgent");
    expect(valueText({ a: 1 })).toBe('{"a":1}');
  });

  it("describes conditions in a few words", () => {
    expect(describeCondition(undefined)).toBe("always");
    expect(describeCondition({ type: "expression", config: { source: "result.score", operator: "gte", value: 0.8 } })).toBe(
      "if result.score >= 0.8",
    );
    expect(describeCondition({ type: "plugin", plugin: "time_window" })).toBe("if plugin time_window");
  });
});

describe("conditions and config in the definition", () => {
  const definition: JsonObject = {
    name: "p",
    steps: [
      { id: "a", type: "pass" },
      { id: "b", plugin: "http", config: { url: "https://example.org", headers: { x: "1" } } },
    ],
    flow: { start_at: "a", paths: [{ from_step: "a", to_step: "b", condition: "always" }] },
  };

  it("sets and removes a transition's condition, in the canonical dialect", () => {
    const cel = { type: "cel", expr: "true" };
    const withCondition = setCondition(definition, 0, cel);
    expect(transitionsOf(withCondition)).toEqual([{ from: "a", to: "b", condition: cel }]);
    expect(transitionsOf(setCondition(withCondition, 0, undefined))).toEqual([{ from: "a", to: "b" }]);
    expect(() => setCondition(definition, 3, cel)).toThrow(/no transition 4/);
  });

  it("replaces a step's config and drops an empty one", () => {
    const changed = setStepConfig(definition, "b", { url: "https://example.com" });
    expect((changed.steps as JsonObject[])[1]).toEqual({ id: "b", plugin: "http", config: { url: "https://example.com" } });
    expect((setStepConfig(definition, "b", {}).steps as JsonObject[])[1]).toEqual({ id: "b", plugin: "http" });
    expect(() => setStepConfig(definition, "zz", {})).toThrow(/no step/);
  });

  it("adds a step of a plugin", () => {
    const next = addStep(definition, { id: "c", plugin: "llm" }, "b");
    expect((next.steps as JsonObject[])[2]).toEqual({ id: "c", plugin: "llm" });
  });
});

describe("config form", () => {
  const schema = {
    type: "object",
    required: ["url"],
    properties: {
      url: { type: "string", minLength: 1 },
      timeout_s: { type: "number", minimum: 0, default: 10 },
      method: { enum: ["GET", "POST"] },
      headers: { type: "object" },
      retry_on: { type: "array" },
    },
  };

  it("makes fields of the scalar properties only", () => {
    expect(configFields(schema).map((f) => f.name)).toEqual(["url", "method", "timeout_s"]);
  });

  it("changes only the edited key, keeps the rest, and drops an emptied one", () => {
    const fields = configFields(schema);
    const config: JsonObject = { url: "https://a", headers: { x: "1" } };
    const values = configValues(fields, config);
    expect(values.timeout_s).toBe(""); // a schema default is not written for the user

    const timed = configWith(config, fields, { ...values, timeout_s: "2.5" }, "timeout_s");
    expect(timed).toEqual({ url: "https://a", headers: { x: "1" }, timeout_s: 2.5 });
    expect(configWith(timed, fields, { ...values, timeout_s: "abc" }, "timeout_s")).toBe(timed);
    expect(configWith(timed, fields, { ...values, timeout_s: "" }, "timeout_s")).toEqual(config);
    expect(configWith(config, fields, { ...values, method: "1" }, "method").method).toBe("POST");
  });

  it("reports what the schema refuses", () => {
    const fields = configFields(schema);
    expect(Object.keys(configProblems(fields, { timeout_s: -1 })).sort()).toEqual(["timeout_s", "url"]);
    expect(configProblems(fields, { url: "https://a" })).toEqual({});
  });
});
