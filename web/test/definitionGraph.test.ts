import { describe, expect, it } from "vitest";
import { addStep, addTransition, graphOf, removeStep, removeTransition, setStart } from "../src/definitionGraph";
import type { JsonObject } from "../src/forms";

const base: JsonObject = {
  name: "p",
  description: "kept as it is",
  steps: [
    { id: "a", type: "pass", inputs: { x: "{{ parameters.x }}" } },
    { id: "b", type: "pass" },
  ],
  flow: { start_at: "a", transitions: [{ from: "a", to: "b", condition: { type: "cel", expr: "true" } }] },
};

describe("graphOf", () => {
  it("reads steps, the start and transitions", () => {
    expect(graphOf(base)).toEqual({
      steps: [{ id: "a" }, { id: "b" }],
      flow: { startAt: "a", transitions: [{ from: "a", to: "b", conditionText: "if true" }] },
    });
  });

  it("reads the older dialect's flow.paths with from_step/to_step", () => {
    const legacy: JsonObject = { steps: [{ id: "a" }, { id: "b" }], flow: { start_at: "a", paths: [{ from_step: "a", to_step: "b" }] } };

    expect(graphOf(legacy).flow!.transitions).toEqual([{ from: "a", to: "b" }]);
    expect(addTransition(legacy, "b", "a").flow).toEqual({
      start_at: "a",
      transitions: [
        { from: "a", to: "b" },
        { from: "b", to: "a" },
      ],
    });
  });
});

describe("editing the graph", () => {
  it("adds a step after another, with the transition, and keeps everything else", () => {
    const next = addStep(base, { id: "c", type: "wait" }, "b");

    expect(next.steps).toEqual([...(base.steps as JsonObject[]), { id: "c", type: "wait", wait: { seconds: 1 } }]);
    expect(graphOf(next).flow!.transitions).toEqual([
      { from: "a", to: "b", conditionText: "if true" },
      { from: "b", to: "c" },
    ]);
    expect((next.flow as { transitions: unknown[] }).transitions[0]).toEqual({ from: "a", to: "b", condition: { type: "cel", expr: "true" } });
    expect(next.description).toBe("kept as it is");
    expect(base.steps as JsonObject[]).toHaveLength(2);
  });

  it("makes the first step of an empty pipeline its start", () => {
    expect(addStep({ name: "new", steps: [] }, { id: "first", type: "pass" }).flow).toEqual({ start_at: "first" });
  });

  it("refuses a duplicate or malformed step id and transitions to unknown steps", () => {
    expect(() => addStep(base, { id: "a", type: "pass" })).toThrow("there is already a step “a”");
    expect(() => addStep(base, { id: "has space", type: "pass" })).toThrow("is not a step id");
    expect(() => addTransition(base, "a", "ghost")).toThrow("there is no step “ghost”");
    expect(() => addTransition(base, "a", "b")).toThrow("a → b is there already");
  });

  it("removes a step with its transitions, moving the start to the next step", () => {
    const next = removeStep(base, "a");

    expect(graphOf(next)).toEqual({ steps: [{ id: "b" }], flow: { startAt: "b", transitions: [] } });
  });

  it("removes one transition and sets the start", () => {
    expect(graphOf(removeTransition(base, 0)).flow!.transitions).toEqual([]);
    expect(graphOf(setStart(base, "b")).flow!.startAt).toBe("b");
  });
});
