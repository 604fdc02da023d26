/**
 * The visual editor's operations on a definition in canonical JSON: read its graph,
 * add and remove steps and transitions, pick the start step. Each returns a new
 * definition and leaves everything it does not touch as it was.
 */
import { describeCondition } from "./conditionForm";
import type { GraphDefinition, GraphTransition } from "./graph";
import type { JsonObject, JsonValue } from "./forms";

export const STEP_TYPES = ["pass", "wait", "human_input", "map", "pipeline"] as const;

function steps(definition: JsonObject): JsonObject[] {
  return Array.isArray(definition.steps) ? (definition.steps as JsonObject[]) : [];
}

function flow(definition: JsonObject): JsonObject {
  const value = definition.flow;
  return value && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};
}

function transitions(definition: JsonObject): JsonObject[] {
  const f = flow(definition);
  // The older dialect calls them paths, with from_step/to_step.
  const list = Array.isArray(f.transitions) ? f.transitions : Array.isArray(f.paths) ? f.paths : [];
  return list as JsonObject[];
}

function endpoint(transition: JsonObject, side: "from" | "to"): string {
  return String(transition[side] ?? transition[`${side}_step`] ?? "");
}

/** The graph of a definition in any dialect the registry reads. */
export function graphOf(definition: JsonObject): GraphDefinition {
  const f = flow(definition);
  return {
    steps: steps(definition).map((s) => ({ id: String(s.id ?? s.name ?? "") })),
    flow: {
      startAt: typeof f.start_at === "string" ? f.start_at : undefined,
      transitions: transitions(definition).map((t): GraphTransition => {
        const edge: GraphTransition = { from: endpoint(t, "from"), to: endpoint(t, "to") };
        const condition = describeCondition(t.condition);
        return condition === "always" ? edge : { ...edge, conditionText: condition };
      }),
    },
  };
}

function withFlow(definition: JsonObject, changes: JsonObject, list?: JsonObject[]): JsonObject {
  const f: JsonObject = { ...flow(definition), ...changes };
  if (list !== undefined) {
    delete f.paths;
    f.transitions = list.map((t) => {
      const { from_step, to_step, ...rest } = t;
      return { ...rest, from: (t.from ?? from_step) as JsonValue, to: (t.to ?? to_step) as JsonValue };
    }) as JsonValue;
  }
  return { ...definition, flow: f };
}

/**
 * Adds a step of a built-in type or of a step plugin; with `after`, also a
 * transition from that step to it. The first step becomes the start.
 */
export function addStep(
  definition: JsonObject,
  step: { id: string; type?: string; plugin?: string },
  after?: string,
): JsonObject {
  const id = step.id.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(id)) {
    throw new Error(`“${step.id}” is not a step id: use letters, digits, _ and -, starting with a letter`);
  }
  const existing = steps(definition);
  if (existing.some((s) => s.id === id)) {
    throw new Error(`there is already a step “${id}”`);
  }
  const created: JsonObject = step.plugin ? { id, plugin: step.plugin } : { id, type: step.type ?? "pass" };
  if (step.type === "wait") {
    created.wait = { seconds: 1 };
  }
  if (step.type === "human_input") {
    created.human_input = { prompt: "", ui_schema: { type: "object", properties: {} } };
  }
  let next: JsonObject = { ...definition, steps: [...existing, created] };
  if (!flow(definition).start_at && existing.length === 0) {
    next = withFlow(next, { start_at: id });
  }
  return after ? addTransition(next, after, id) : next;
}

/** Removes a step, every transition to or from it, and the start if it was the start. */
export function removeStep(definition: JsonObject, id: string): JsonObject {
  const kept = transitions(definition).filter((t) => endpoint(t, "from") !== id && endpoint(t, "to") !== id);
  const f = flow(definition);
  const rest = steps(definition).filter((s) => s.id !== id);
  const start = f.start_at === id ? (rest[0]?.id ?? "") : f.start_at;
  const next = withFlow({ ...definition, steps: rest }, start === undefined ? {} : { start_at: start as JsonValue }, kept);
  if (!(next.flow as JsonObject).start_at) {
    delete (next.flow as JsonObject).start_at;
  }
  return next;
}

export function addTransition(definition: JsonObject, from: string, to: string): JsonObject {
  const ids = new Set(steps(definition).map((s) => String(s.id)));
  for (const id of [from, to]) {
    if (!ids.has(id)) {
      throw new Error(`there is no step “${id}”`);
    }
  }
  const list = transitions(definition);
  if (list.some((t) => endpoint(t, "from") === from && endpoint(t, "to") === to)) {
    throw new Error(`${from} → ${to} is there already`);
  }
  return withFlow(definition, {}, [...list, { from, to }]);
}

export function removeTransition(definition: JsonObject, index: number): JsonObject {
  return withFlow(
    definition,
    {},
    transitions(definition).filter((_, i) => i !== index),
  );
}

export function setStart(definition: JsonObject, id: string): JsonObject {
  return withFlow(definition, { start_at: id });
}

/** A step of the definition by id, or undefined. */
export function stepOf(definition: JsonObject, id: string): JsonObject | undefined {
  return steps(definition).find((s) => s.id === id);
}

/** The transitions as written (either dialect), for reading their conditions. */
export function transitionsOf(definition: JsonObject): JsonObject[] {
  return transitions(definition);
}

/** Sets (or, with undefined, removes) the condition of the transition at `index`. */
export function setCondition(definition: JsonObject, index: number, condition: JsonObject | undefined): JsonObject {
  const list = transitions(definition);
  if (index < 0 || index >= list.length) {
    throw new Error(`there is no transition ${index + 1}`);
  }
  return withFlow(
    definition,
    {},
    list.map((t, i) => {
      if (i !== index) {
        return t;
      }
      const { condition: _old, ...rest } = t;
      return condition === undefined ? rest : { ...rest, condition };
    }),
  );
}

/** Replaces a step's config; an empty config removes the key. */
export function setStepConfig(definition: JsonObject, id: string, config: JsonObject): JsonObject {
  if (!stepOf(definition, id)) {
    throw new Error(`there is no step “${id}”`);
  }
  return {
    ...definition,
    steps: steps(definition).map((s) => {
      if (s.id !== id) {
        return s;
      }
      const { config: _old, ...rest } = s;
      return Object.keys(config).length > 0 ? { ...rest, config } : rest;
    }),
  };
}
