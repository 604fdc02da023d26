/**
 * The step debugger's rules, as pure functions: breakpoints and mocks chosen on the
 * StartRun page, the edits of a paused step's input (the executor sets top-level
 * fields only), the conditions grouped by transition, and the keyboard shortcuts.
 */
import type { JsonObject, JsonValue } from "./forms";

/** One step's debug settings as the StartRun form holds them. */
export interface StepDebug {
  breakpoint: boolean;
  /** CEL over input, parameters, steps and run; empty means always. */
  condition: string;
  mocked: boolean;
  /** The canned output, as JSON text. */
  mock: string;
}

export const NO_DEBUG: StepDebug = { breakpoint: false, condition: "", mocked: false, mock: "{}" };

export interface DebugRequest {
  breakpoints: { stepId: string; condition: string }[];
  mocks: JsonObject;
  /** Problems by step id, for the form; nothing is sent while there are any. */
  errors: Record<string, string>;
}

function parseObject(text: string): { value?: JsonObject; error?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: `is not JSON (${(e as Error).message})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "is not a JSON object; write one, e.g. {\"score\": 0.9}" };
  }
  return { value: value as JsonObject };
}

/** The breakpoints and mocks to start a run with, in the definition's step order. */
export function debugRequest(stepIds: string[], settings: Record<string, StepDebug>): DebugRequest {
  const request: DebugRequest = { breakpoints: [], mocks: {}, errors: {} };
  for (const stepId of stepIds) {
    const step = settings[stepId];
    if (!step) {
      continue;
    }
    if (step.breakpoint) {
      request.breakpoints.push({ stepId, condition: step.condition.trim() });
    }
    if (step.mocked) {
      const parsed = parseObject(step.mock);
      if (parsed.error) {
        request.errors[stepId] = `The mock output of ${stepId} ${parsed.error}`;
      } else {
        request.mocks[stepId] = parsed.value!;
      }
    }
  }
  return request;
}

/** Whether any step is set to break or be mocked: then the run is a debugged one. */
export function isDebugged(settings: Record<string, StepDebug>): boolean {
  return Object.values(settings).some((s) => s.breakpoint || s.mocked);
}

function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

// Key order does not make a value different.
function canonical(value: JsonValue | undefined): JsonValue | undefined {
  if (Array.isArray(value)) {
    return value.map((v) => canonical(v) as JsonValue);
  }
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical(value[k]) as JsonValue]),
    );
  }
  return value;
}

export interface InputEdits {
  /** The top-level fields to send as `inputs`; empty when nothing changed. */
  edits: JsonObject;
  error?: string;
}

/**
 * What to send as `inputs` when the paused step's input was edited to `text`:
 * the top-level fields that differ. A removed field cannot be sent (the executor
 * only sets fields), so it is an error that says what to do instead.
 */
export function inputEdits(original: JsonObject, text: string): InputEdits {
  const parsed = parseObject(text);
  if (parsed.error) {
    return { edits: {}, error: `The input ${parsed.error}` };
  }
  const edited = parsed.value!;
  const removed = Object.keys(original).filter((k) => !(k in edited));
  if (removed.length) {
    const names = removed.join(", ");
    return { edits: {}, error: `A field cannot be removed (${names}); set it to null instead` };
  }
  const edits: JsonObject = {};
  for (const [key, value] of Object.entries(edited)) {
    if (!sameJson(original[key], value)) {
      edits[key] = value;
    }
  }
  return { edits };
}

export interface Evaluation {
  from: string;
  to: string;
  iteration: number;
  condition: string;
  fired: boolean;
  reason: string;
  values?: JsonObject;
}

export interface EdgeVerdict {
  from: string;
  to: string;
  /** The latest evaluation of this transition. */
  latest: Evaluation;
  /** How many times it was evaluated. */
  count: number;
}

/** The conditions evaluated so far, one row per transition (its latest verdict), in first-seen order. */
export function edgeVerdicts(evaluations: Evaluation[]): EdgeVerdict[] {
  const byEdge = new Map<string, EdgeVerdict>();
  for (const evaluation of evaluations) {
    const key = `${evaluation.from}\u0000${evaluation.to}`;
    const seen = byEdge.get(key);
    if (!seen) {
      byEdge.set(key, { from: evaluation.from, to: evaluation.to, latest: evaluation, count: 1 });
    } else {
      seen.count += 1;
      if (evaluation.iteration >= seen.latest.iteration) {
        seen.latest = evaluation;
      }
    }
  }
  return [...byEdge.values()];
}

export type DebugCommand = "step" | "continue";

/** The part of a key event the shortcuts look at. */
export interface KeyPress {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** Whether the key went to a text field (letters then type text, not commands). */
  inTextField?: boolean;
}

/**
 * The debugger's keys, as in browser developer tools: F10 steps, F8 continues.
 * `n` and `c` (as in the CLI's prompt) do the same outside text fields.
 */
export function debugCommandOf(press: KeyPress): DebugCommand | null {
  if (press.ctrlKey || press.metaKey || press.altKey) {
    return null;
  }
  if (press.key === "F10") {
    return "step";
  }
  if (press.key === "F8") {
    return "continue";
  }
  if (press.inTextField) {
    return null;
  }
  if (press.key === "n") {
    return "step";
  }
  if (press.key === "c") {
    return "continue";
  }
  return null;
}

/**
 * The service's field violations about breakpoints and mocks, by the step they are
 * about (`breakpoints[1].condition` is the second breakpoint's step, `mocks.fetch`
 * is fetch), so the form can show each next to its step.
 */
export function violationsByStep(
  violations: { field: string; description: string }[],
  breakpoints: { stepId: string }[],
): Record<string, string> {
  const found: Record<string, string> = {};
  for (const { field, description } of violations) {
    const point = /^breakpoints\[(\d+)\]/.exec(field);
    const mock = /^mocks\.(.+)$/.exec(field);
    const stepId = point ? breakpoints[Number(point[1])]?.stepId : mock?.[1];
    if (stepId) {
      found[stepId] = found[stepId] ? `${found[stepId]}; ${description}` : description;
    }
  }
  return found;
}
