import { describe, expect, it } from "vitest";
import {
  NO_DEBUG,
  debugCommandOf,
  debugRequest,
  edgeVerdicts,
  inputEdits,
  isDebugged,
  violationsByStep,
  type Evaluation,
} from "../src/debugging";

describe("debug request", () => {
  it("keeps the definition's step order, trims conditions and parses mocks", () => {
    const request = debugRequest(["fetch", "score", "notify"], {
      notify: { ...NO_DEBUG, breakpoint: true },
      score: { ...NO_DEBUG, breakpoint: true, condition: "  input.n > 10 " },
      fetch: { ...NO_DEBUG, mocked: true, mock: '{"rows": [1, 2]}' },
    });

    expect(request.breakpoints).toEqual([
      { stepId: "score", condition: "input.n > 10" },
      { stepId: "notify", condition: "" },
    ]);
    expect(request.mocks).toEqual({ fetch: { rows: [1, 2] } });
    expect(request.errors).toEqual({});
  });

  it("says which mock is not a JSON object", () => {
    const request = debugRequest(["a", "b", "c"], {
      a: { ...NO_DEBUG, mocked: true, mock: "{oops" },
      b: { ...NO_DEBUG, mocked: true, mock: "[1]" },
      c: { ...NO_DEBUG, mocked: false, mock: "not looked at" },
    });

    expect(request.errors.a).toMatch(/^The mock output of a is not JSON \(/);
    expect(request.errors.b).toBe('The mock output of b is not a JSON object; write one, e.g. {"score": 0.9}');
    expect(request.errors.c).toBeUndefined();
    expect(request.mocks).toEqual({});
  });

  it("ignores settings of steps the definition no longer has", () => {
    expect(debugRequest(["a"], { gone: { ...NO_DEBUG, breakpoint: true } }).breakpoints).toEqual([]);
  });

  it("is a debugged run only when something breaks or is mocked", () => {
    expect(isDebugged({})).toBe(false);
    expect(isDebugged({ a: { ...NO_DEBUG, condition: "true" } })).toBe(false);
    expect(isDebugged({ a: { ...NO_DEBUG, mocked: true } })).toBe(true);
  });
});

describe("input edits", () => {
  const original = { n: 4, user: { name: "ada", tags: ["x"] }, note: null };

  it("sends only the top-level fields that changed", () => {
    const text = JSON.stringify({ user: { tags: ["x"], name: "ada" }, n: 12, note: null, extra: true });
    expect(inputEdits(original, text)).toEqual({ edits: { n: 12, extra: true } });
  });

  it("sends a whole top-level field when something inside it changed", () => {
    const text = JSON.stringify({ ...original, user: { name: "grace", tags: ["x"] } });
    expect(inputEdits(original, text).edits).toEqual({ user: { name: "grace", tags: ["x"] } });
  });

  it("sends nothing when the text is the input, however it is formatted", () => {
    expect(inputEdits(original, JSON.stringify(original, null, 4))).toEqual({ edits: {} });
  });

  it("refuses what it cannot send, saying why", () => {
    expect(inputEdits(original, "{n: 1}").error).toMatch(/^The input is not JSON \(/);
    expect(inputEdits(original, "42").error).toMatch(/^The input is not a JSON object/);
    expect(inputEdits(original, JSON.stringify({ n: 4 }))).toEqual({
      edits: {},
      error: "A field cannot be removed (user, note); set it to null instead",
    });
  });
});

describe("condition verdicts", () => {
  const evaluation = (from: string, to: string, iteration: number, fired: boolean): Evaluation => ({
    from,
    to,
    iteration,
    condition: "result.ok == true",
    fired,
    reason: `${from}->${to} #${iteration}`,
    values: {},
  });

  it("keeps one row per transition with its latest verdict, in first-seen order", () => {
    const verdicts = edgeVerdicts([
      evaluation("check", "retry", 0, true),
      evaluation("check", "done", 0, false),
      evaluation("check", "retry", 1, false),
      evaluation("check", "done", 1, true),
    ]);

    expect(verdicts.map((v) => [v.from, v.to, v.latest.iteration, v.latest.fired, v.count])).toEqual([
      ["check", "retry", 1, false, 2],
      ["check", "done", 1, true, 2],
    ]);
  });
});

describe("debugger keys", () => {
  it("steps with F10 and continues with F8, even in a text field", () => {
    expect(debugCommandOf({ key: "F10", inTextField: true })).toBe("step");
    expect(debugCommandOf({ key: "F8", inTextField: true })).toBe("continue");
  });

  it("takes n and c only outside text fields, and nothing with a modifier", () => {
    expect(debugCommandOf({ key: "n" })).toBe("step");
    expect(debugCommandOf({ key: "c" })).toBe("continue");
    expect(debugCommandOf({ key: "n", inTextField: true })).toBeNull();
    expect(debugCommandOf({ key: "c", ctrlKey: true })).toBeNull();
    expect(debugCommandOf({ key: "F8", metaKey: true })).toBeNull();
    expect(debugCommandOf({ key: "x" })).toBeNull();
  });
});

describe("violations by step", () => {
  it("puts the service's words next to the breakpoint or mock they are about", () => {
    const found = violationsByStep(
      [
        { field: "breakpoints[1].condition", description: "unexpected token" },
        { field: "mocks.fetch", description: "no step 'fetch'" },
        { field: "breakpoints[1].step_id", description: "no step 'scor'" },
        { field: "breakpoints[7].condition", description: "no such breakpoint" },
        { field: "inputs.n", description: "not a step" },
      ],
      [{ stepId: "a" }, { stepId: "scor" }],
    );

    expect(found).toEqual({ scor: "unexpected token; no step 'scor'", fetch: "no step 'fetch'" });
  });
});
