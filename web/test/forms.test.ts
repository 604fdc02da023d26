import { describe, expect, it } from "vitest";
import { checkForm, fieldsFromSchema, initialValues, parameterSchema, withoutError } from "../src/forms";

const approval = {
  type: "object",
  required: ["approved", "priority"],
  properties: {
    approved: { type: "boolean", title: "Approve", "ui:widget": "radio" },
    comment: { type: "string", title: "Comment", "ui:widget": "textarea", maxLength: 10 },
    priority: { enum: ["low", "high"], enumNames: ["Low", "High"] },
    channel: { enum: ["mail", "chat"], "ui:widget": "radio" },
    urgent: { type: "boolean" },
    amount: { type: "number", minimum: 0, maximum: 100 },
    count: { type: "integer" },
    code: { type: "string", pattern: "^[A-Z]{3}$" },
  },
};

describe("fieldsFromSchema", () => {
  it("picks a widget per property: required fields first, then the others by name", () => {
    const fields = fieldsFromSchema(approval);

    expect(fields.map((f) => [f.name, f.widget, f.required])).toEqual([
      ["approved", "radio", true],
      ["priority", "select", true],
      ["amount", "number", false],
      ["channel", "radio", false],
      ["code", "text", false],
      ["comment", "textarea", false],
      ["count", "number", false],
      ["urgent", "checkbox", false],
    ]);
    expect(fields[0].label).toBe("Approve");
    expect(fields[0].choices.map((c) => c.value)).toEqual([true, false]);
    expect(fields[1].choices).toEqual([
      { label: "Low", value: "low" },
      { label: "High", value: "high" },
    ]);
  });

  it("follows ui:order, with * for the fields it does not name", () => {
    const ordered = fieldsFromSchema({ ...approval, "ui:order": ["comment", "*", "approved"] });

    expect(ordered.map((f) => f.name)).toEqual(["comment", "priority", "amount", "channel", "code", "count", "urgent", "approved"]);
    expect(fieldsFromSchema({ ...approval, "ui:order": ["code"] })[0].name).toBe("code");
  });

  it("gives no field for a schema without properties", () => {
    expect(fieldsFromSchema(undefined)).toEqual([]);
    expect(fieldsFromSchema({ type: "object" })).toEqual([]);
  });
});

describe("checkForm", () => {
  const fields = fieldsFromSchema(approval);

  it("refuses missing required answers and values the schema forbids", () => {
    const values = { ...initialValues(fields), comment: "far too long a comment", amount: "abc", count: "1.5", code: "ab" };

    const { errors } = checkForm(fields, values);

    expect(errors).toEqual({
      approved: "Approve: choose one",
      priority: "priority: choose one",
      comment: "Comment: must be at most 10 characters",
      amount: "amount: must be a number",
      count: "count: must be a whole number",
      code: "code: must match ^[A-Z]{3}$",
    });
  });

  it("checks number bounds", () => {
    expect(checkForm(fields, { ...initialValues(fields), amount: "101" }).errors.amount).toBe("amount: must be at most 100");
    expect(checkForm(fields, { ...initialValues(fields), amount: "-1" }).errors.amount).toBe("amount: must be at least 0");
  });

  it("builds typed data from valid answers, leaving out empty optional fields", () => {
    const values = { ...initialValues(fields), approved: "1", priority: "1", urgent: true, amount: "12.5", count: "3", code: "ABC" };

    const { data, errors } = checkForm(fields, values);

    expect(errors).toEqual({});
    expect(data).toEqual({ approved: false, priority: "high", urgent: true, amount: 12.5, count: 3, code: "ABC" });
  });
});

describe("parameter forms", () => {
  it("turn parameter_specs into one schema, with the pipeline's defaults as starting values", () => {
    const schema = parameterSchema([
      { name: "who", description: "Who to greet.", required: true, schema: { type: "string", minLength: 1 } },
      { name: "times", description: "", required: false, schema: { type: "integer", minimum: 0 } },
      { name: "mode", description: "", required: false, schema: { enum: ["a", "b"] } },
    ]);
    const fields = fieldsFromSchema(schema);

    const values = initialValues(fields, { who: "world", times: 3, mode: "b" });

    expect(fields.map((f) => [f.name, f.widget, f.required, f.description])).toEqual([
      ["who", "text", true, "Who to greet."],
      ["times", "number", false, undefined],
      ["mode", "select", false, undefined],
    ]);
    expect(values).toEqual({ who: "world", times: "3", mode: "1" });
    expect(checkForm(fields, values).data).toEqual({ who: "world", times: 3, mode: "b" });
    expect(checkForm(fields, { ...values, who: "" }).errors).toEqual({ who: "who is required" });
  });
});

describe("withoutError", () => {
  it("drops only the changed field's error", () => {
    const errors = { a: "a is required", b: "b: must be a number" };

    expect(withoutError(errors, "a")).toEqual({ b: "b: must be a number" });
    expect(withoutError(errors, "c")).toBe(errors);
  });
});
