/** The one client of the dashboard: gRPC-Web to Envoy, which also serves this app. */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { IAError, PipelineSchema, RunState, StepState, type Pipeline } from "@ia-modules/sdk";
import { createWebClient } from "@ia-modules/sdk/web";
import type { JsonObject } from "./forms";

/**
 * Envoy's address: VITE_IA_ENDPOINT when set; else where the app came from (Envoy
 * serves it), or the local stack's front door under the Vite dev server.
 */
const endpoint =
  (import.meta.env.VITE_IA_ENDPOINT as string | undefined) ||
  (import.meta.env.DEV ? "http://localhost:8080" : window.location.origin);

export const client = createWebClient(endpoint);

export function asIAError(error: unknown): IAError {
  return IAError.from(error, client.endpoint);
}

/** A definition as the canonical JSON the editor shows (snake_case names). */
export function definitionJson(pipeline: Pipeline | undefined): JsonObject {
  return pipeline ? (toJson(PipelineSchema, pipeline, { useProtoFieldName: true }) as JsonObject) : {};
}

export function runStateName(state: RunState): string {
  return RunState[state] ?? "UNSPECIFIED";
}

export function stepStateName(state: StepState): string {
  return StepState[state] ?? "UNSPECIFIED";
}

export function formatTime(time: Timestamp | undefined): string {
  return time ? timestampDate(time).toLocaleString() : "";
}

export function millis(time: Timestamp | undefined): number | undefined {
  return time ? timestampDate(time).getTime() : undefined;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || ms < 0) {
    return "";
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Collects an async iterable's first `limit` items. */
export async function take<T>(items: AsyncIterable<T>, limit = 500): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) {
    found.push(item);
    if (found.length >= limit) {
      break;
    }
  }
  return found;
}
