// The scenario engine of the TypeScript runner: the same rules as
// tests/conformance/python/scenario.py (see tests/conformance/README.md).
import { readFileSync } from "node:fs";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Step = { [key: string]: Json };
export type Result = { [key: string]: unknown };

/** A failed call as the client exposes it, normalized for expect_error. */
export class CallFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly reason: string | undefined = undefined,
    readonly metadata: Record<string, string> = {},
    readonly fields: string[] = [],
    readonly unreachable = false,
  ) {
    super(message);
  }
}

/** One step kind: returns what `expect` is checked against and what `save` keeps. */
export type Handler = (step: Step) => Promise<[Result, unknown]>;

export interface Document {
  pipelines: { [name: string]: { [key: string]: Json } };
  scenarios: { name: string; steps: Step[] }[];
}

export function loadDocument(path: string, namespace: string): Document {
  return JSON.parse(readFileSync(path, "utf8").replaceAll("${ns}", namespace)) as Document;
}

const REFERENCE = /^\$([a-z_][a-z0-9_]*)((?:\.[a-z_][a-z0-9_]*)*)$/;

/** JSON-shaped copy: bigints become numbers, so results compare with the file. */
export function plain(value: unknown): Json {
  return JSON.parse(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? Number(v) : v))) as Json;
}

export function jsonEqual(want: unknown, got: unknown): boolean {
  const w = plain(want);
  const g = plain(got);
  if (typeof w === "number" && typeof g === "number") {
    return Math.abs(w - g) <= 1e-9 * Math.max(1, Math.abs(w));
  }
  if (Array.isArray(w) && Array.isArray(g)) {
    return w.length === g.length && w.every((item, i) => jsonEqual(item, g[i]));
  }
  if (w && g && typeof w === "object" && typeof g === "object" && !Array.isArray(w) && !Array.isArray(g)) {
    const keys = Object.keys(w).sort();
    return jsonEqual(keys, Object.keys(g).sort()) && keys.every((k) => jsonEqual(w[k], g[k]));
  }
  return w === g;
}

const show = (value: unknown): string => JSON.stringify(plain(value));

function checkResult(expect: { [key: string]: Json }, result: Result): void {
  for (const [key, want] of Object.entries(expect)) {
    if (key === "min_pages") {
      if ((result.pages as number) < (want as number)) {
        throw new Error(`expected at least ${want} pages, got ${result.pages}`);
      }
      continue;
    }
    if (!(key in result)) {
      throw new Error(`the step has no result \`${key}\` to check`);
    }
    let got = result[key];
    let wanted: unknown = want;
    if (key === "run_ids") {
      wanted = [...(want as string[])].sort();
      got = [...(got as string[])].sort();
    }
    if (!jsonEqual(wanted, got)) {
      throw new Error(`${key}: expected ${show(wanted)}, got ${show(got)}`);
    }
  }
}

function checkError(expect: { [key: string]: Json }, error: CallFailed): void {
  const shown = `${error.code} ${error.message}`;
  if (typeof expect.code === "string" && error.code !== expect.code) {
    throw new Error(`expected code ${expect.code}, got ${shown}`);
  }
  if (typeof expect.reason === "string" && error.reason !== expect.reason) {
    throw new Error(`expected reason ${expect.reason}, got ${error.reason} (${shown})`);
  }
  for (const [key, value] of Object.entries((expect.metadata ?? {}) as { [key: string]: Json })) {
    if (error.metadata[key] !== value) {
      throw new Error(`expected metadata ${key}=${value}, got ${show(error.metadata)}`);
    }
  }
  for (const wanted of (expect.fields ?? []) as string[]) {
    if (!error.fields.includes(wanted)) {
      throw new Error(`expected a field violation on ${wanted}, got ${show(error.fields)}`);
    }
  }
  if (typeof expect.unreachable === "boolean" && error.unreachable !== expect.unreachable) {
    throw new Error(`expected unreachable=${expect.unreachable}, got ${error.unreachable} (${shown})`);
  }
  if (typeof expect.message_contains === "string" && !error.message.includes(expect.message_contains)) {
    throw new Error(`expected the message to contain ${show(expect.message_contains)}, got ${show(error.message)}`);
  }
}

/** The parts, one after another, are events 1..N without gaps or repeats, as in `against`. */
function checkSequence(parts: unknown[], against: unknown): void {
  const events = parts.flatMap((part) => (plain(part) as { events: [number, string][] }).events);
  if (!events.every(([sequence], i) => sequence === i + 1)) {
    throw new Error(`the reconnected watch has gaps or repeats: ${show(events)}`);
  }
  const full = (plain(against) as { events: Json }).events;
  if (!jsonEqual(events, full)) {
    throw new Error(`the reconnected watch saw ${show(events)}, one watch saw ${show(full)}`);
  }
}

export class Scenario {
  private readonly saved = new Map<string, unknown>();

  constructor(
    private readonly steps: Step[],
    private readonly pipelines: Document["pipelines"],
    private readonly handlers: { [kind: string]: Handler },
  ) {}

  private resolve(value: Json): Json {
    if (typeof value === "string") {
      const match = REFERENCE.exec(value);
      if (!match) {
        return value;
      }
      if (!this.saved.has(match[1])) {
        throw new Error(`${value}: no earlier step saved \`${match[1]}\``);
      }
      let resolved = this.saved.get(match[1]) as Json;
      for (const part of match[2].split(".").filter(Boolean)) {
        resolved = (resolved as { [key: string]: Json })[part];
      }
      return resolved;
    }
    if (Array.isArray(value)) {
      return value.map((item) => this.resolve(item));
    }
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v)]));
    }
    return value;
  }

  async run(): Promise<void> {
    const unsupported = [...new Set(this.steps.map((s) => s.kind as string))].filter(
      (kind) => !(kind in this.handlers) && kind !== "check_sequence",
    );
    if (unsupported.length > 0) {
      throw new Error(`this runner does not support the step kind(s) ${show(unsupported.sort())}`);
    }
    for (const [index, raw] of this.steps.entries()) {
      try {
        await this.step(this.resolve(raw) as Step);
      } catch (error) {
        throw new Error(`step ${index + 1} (${raw.kind}): ${(error as Error).message}`);
      }
    }
  }

  private async step(step: Step): Promise<void> {
    const kind = step.kind as string;
    if (kind === "check_sequence") {
      checkSequence((step.parts as string[]).map((name) => this.saved.get(name)), this.saved.get(step.against as string));
      return;
    }
    if (kind === "create_pipeline") {
      const definition = structuredClone(this.pipelines[step.pipeline as string]);
      definition.name = (step.name as string | undefined) ?? definition.name;
      step = { ...step, definition };
    }
    const expectError = step.expect_error as { [key: string]: Json } | undefined;
    let result: Result;
    let saved: unknown;
    try {
      [result, saved] = await this.handlers[kind](step);
    } catch (error) {
      if (!(error instanceof CallFailed) || expectError === undefined) {
        throw new Error(`the call failed: ${(error as Error).message}`);
      }
      checkError(expectError, error);
      return;
    }
    if (expectError !== undefined) {
      throw new Error(`expected the call to fail with ${show(expectError)}, it returned ${show(result)}`);
    }
    checkResult((step.expect ?? {}) as { [key: string]: Json }, result);
    if (typeof step.save === "string") {
      this.saved.set(step.save, plain(saved));
    }
  }
}
