/**
 * One run, live: the graph with each step coloured by its state, a timeline with
 * durations and attempts, outputs and errors, and cancel. It follows WatchRun and,
 * when the stream breaks (an executor restart, a network blip), reopens it from
 * the last sequence it saw, so no event is lost or shown twice. A run started
 * with breakpoints shows the debugger while it is paused.
 */
import { useEffect, useMemo, useReducer, useState } from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  Code,
  FINAL_RUN_STATES,
  RunState,
  StepState,
  type ExecutionError,
  type Pipeline,
  type Run,
  type RunEvent,
} from "@ia-modules/sdk";
import { asIAError, client, formatDuration, formatTime, millis, runStateName, stepStateName } from "../api";
import { layout } from "../graph";
import { GraphView } from "../GraphView";
import { DebuggerPanel, useInspection } from "../Debugger";
import type { JsonObject } from "../forms";
import { Badge, ErrorBox, Json, Section } from "../ui";

interface StepView {
  key: string;
  id: string;
  iteration: number;
  state: StepState;
  attempts: number;
  start?: number;
  end?: number;
  output?: JsonObject;
  error?: ExecutionError;
  reason?: string;
}

interface Monitor {
  state: RunState;
  error?: ExecutionError;
  outputs?: JsonObject;
  steps: StepView[];
  log: { sequence: bigint; time?: number; text: string }[];
  taskOpen: boolean;
  /** The last event's sequence: the debugger inspects the run again after each. */
  sequence: bigint;
  /** Whether the run was seen paused: its debugger then stays on screen. */
  debugged: boolean;
}

const FINAL_STEP_STATES = new Set([StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED, StepState.CANCELLED]);
// Codes a broken stream ends with while the executor or Envoy restarts.
const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.DeadlineExceeded, Code.Aborted]);

type Action = { kind: "event"; event: RunEvent } | { kind: "run"; run: Run };

function reduce(monitor: Monitor, action: Action): Monitor {
  const next = apply(monitor, action);
  return {
    ...next,
    sequence: action.kind === "event" ? action.event.sequence : next.sequence,
    debugged: next.debugged || next.state === RunState.PAUSED,
  };
}

function apply(monitor: Monitor, action: Action): Monitor {
  if (action.kind === "run") {
    const run = action.run;
    const steps = [...monitor.steps];
    for (const step of run.steps) {
      const key = `${step.stepId}#${step.iteration}`;
      const at = steps.findIndex((s) => s.key === key);
      const view: StepView = {
        ...(at >= 0 ? steps[at] : { key, id: step.stepId, iteration: step.iteration }),
        state: step.state,
        attempts: step.attempts,
        start: millis(step.startTime) ?? (at >= 0 ? steps[at].start : undefined),
        end: millis(step.endTime) ?? (at >= 0 ? steps[at].end : undefined),
        output: (step.output as JsonObject | undefined) ?? (at >= 0 ? steps[at].output : undefined),
        error: step.error ?? (at >= 0 ? steps[at].error : undefined),
      };
      if (at >= 0) {
        steps[at] = view;
      } else {
        steps.push(view);
      }
    }
    return {
      ...monitor,
      state: run.state,
      error: run.error ?? monitor.error,
      outputs: (run.outputs as JsonObject | undefined) ?? monitor.outputs,
      steps,
      taskOpen: run.state === RunState.WAITING_FOR_INPUT,
    };
  }
  const event = action.event;
  const time = event.time ? timestampDate(event.time).getTime() : undefined;
  const kind = event.kind;
  const log = (text: string) => [...monitor.log, { sequence: event.sequence, time, text }];
  switch (kind.case) {
    case "runStateChanged":
      return {
        ...monitor,
        state: kind.value.state,
        error: kind.value.error ?? monitor.error,
        taskOpen: kind.value.state === RunState.WAITING_FOR_INPUT,
        log: log(`run ${runStateName(kind.value.state).toLowerCase()}${kind.value.error ? `: ${kind.value.error.message}` : ""}`),
      };
    case "stepStateChanged": {
      const change = kind.value;
      const key = `${change.stepId}#${change.iteration}`;
      const steps = [...monitor.steps];
      const at = steps.findIndex((s) => s.key === key);
      const before: StepView =
        at >= 0 ? steps[at] : { key, id: change.stepId, iteration: change.iteration, state: StepState.PENDING, attempts: 0 };
      const view: StepView = {
        ...before,
        state: change.state,
        attempts: Math.max(before.attempts, change.attempt),
        start: before.start ?? (change.state === StepState.RUNNING ? time : undefined),
        end: FINAL_STEP_STATES.has(change.state) ? time : before.end,
        output: (change.output as JsonObject | undefined) ?? before.output,
        error: change.error ?? before.error,
        reason: change.reason || before.reason,
      };
      if (at >= 0) {
        steps[at] = view;
      } else {
        steps.push(view);
      }
      const detail = change.error ? `: ${change.error.kind} ${change.error.message}` : change.reason ? ` (${change.reason})` : "";
      const attempt = change.attempt > 1 ? ` attempt ${change.attempt}` : "";
      return { ...monitor, steps, log: log(`${change.stepId} ${stepStateName(change.state).toLowerCase()}${attempt}${detail}`) };
    }
    case "stepLog":
      return { ...monitor, log: log(`${kind.value.stepId} [${kind.value.level}] ${kind.value.message}`) };
    case "inputRequested":
      return { ...monitor, taskOpen: true, log: log(`${kind.value.stepId} waits for input: ${kind.value.prompt}`) };
    case "outputs":
      return { ...monitor, outputs: kind.value.outputs as JsonObject | undefined, log: log("outputs ready") };
    case "stepInputEdited":
      return { ...monitor, log: log(`${kind.value.stepId} input edited: ${kind.value.fields.join(", ")}`) };
    default:
      return monitor;
  }
}

const EMPTY: Monitor = { state: RunState.UNSPECIFIED, steps: [], log: [], taskOpen: false, sequence: 0n, debugged: false };

export function RunMonitorPage({ runId }: { runId: string }) {
  const [monitor, dispatch] = useReducer(reduce, EMPTY);
  const [run, setRun] = useState<Run>();
  const [definition, setDefinition] = useState<Pipeline>();
  const [connection, setConnection] = useState<"connecting" | "live" | "reconnecting" | "ended">("connecting");
  const [error, setError] = useState<unknown>();
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    const signal = abort.signal;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    (async () => {
      try {
        const first = await client.getRun(runId, { signal });
        setRun(first);
        client
          .getPipeline(first.pipelineName, { revision: first.revision, signal })
          .then((v) => setDefinition(v.definition))
          .catch(() => undefined);
      } catch (e) {
        if (!signal.aborted) {
          setError(e);
        }
        return;
      }
      let last = 0n;
      let failures = 0;
      while (!signal.aborted) {
        try {
          setConnection(failures ? "reconnecting" : "live");
          for await (const event of client.watchRun(runId, { fromSequence: last, signal })) {
            last = event.sequence;
            failures = 0;
            setConnection("live");
            setError(undefined);
            dispatch({ kind: "event", event });
          }
          const now = await client.getRun(runId, { signal });
          dispatch({ kind: "run", run: now });
          setRun(now);
          if (FINAL_RUN_STATES.has(now.state)) {
            setConnection("ended");
            return;
          }
          // The stream closed cleanly though the run goes on (a graceful restart).
          failures += 1;
        } catch (e) {
          if (signal.aborted) {
            return;
          }
          const wrapped = asIAError(e);
          if (!TRANSIENT.has(wrapped.code)) {
            setError(wrapped);
            setConnection("ended");
            return;
          }
          failures += 1;
          setConnection("reconnecting");
        }
        await sleep(Math.min(250 * failures, 2000));
      }
    })();
    return () => abort.abort();
  }, [runId]);

  const graph = useMemo(() => {
    if (definition && definition.steps.length) {
      return layout({ steps: definition.steps, flow: definition.flow });
    }
    const ids = [...new Set(monitor.steps.map((s) => s.id))];
    return layout({ steps: ids.map((id) => ({ id })) });
  }, [definition, monitor.steps]);

  const latest = new Map<string, StepView>();
  for (const step of monitor.steps) {
    const seen = latest.get(step.id);
    if (!seen || step.iteration >= seen.iteration) {
      latest.set(step.id, step);
    }
  }
  const origin = Math.min(...monitor.steps.map((s) => s.start ?? Infinity));
  const finish = Math.max(...monitor.steps.map((s) => s.end ?? s.start ?? -Infinity), Date.now() - 1);
  const span = Number.isFinite(origin) ? Math.max(1, finish - origin) : 1;
  const final = FINAL_RUN_STATES.has(monitor.state);
  const paused = monitor.state === RunState.PAUSED;
  // Inspected while paused, and once more at the end (the conditions the whole run evaluated).
  const version = final ? "final" : String(monitor.sequence);
  const inspection = useInspection(runId, paused || (final && monitor.debugged), version);
  const stateWords = runStateName(monitor.state).replace(/_/g, " ").toLowerCase();
  const held = new Set(paused && inspection.fresh ? (inspection.inspection?.paused ?? []).map((p) => p.stepId) : []);
  const shown = selected ? monitor.steps.find((s) => s.key === selected) : undefined;

  const cancel = async () => {
    try {
      dispatch({ kind: "run", run: await client.cancelRun(runId, { reason: "cancelled from the dashboard" }) });
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <Section
        title={`Run ${runId}`}
        actions={
          <>
            <span className={`connection ${connection}`} data-testid="connection" aria-live="polite">
              {connection === "live" ? "● live" : connection === "reconnecting" ? "◌ reconnecting…" : connection === "ended" ? "finished" : "connecting…"}
            </span>
            <a className="button" href={`#/metrics?run=${encodeURIComponent(runId)}`}>
              Trace
            </a>
            {!final && monitor.state !== RunState.UNSPECIFIED && (
              <button className="danger" onClick={cancel}>
                Cancel run
              </button>
            )}
          </>
        }
      >
        <ErrorBox error={error} />
        <dl className="facts">
          <dt>Pipeline</dt>
          <dd>
            {run && (
              <a href={`#/pipelines/${encodeURIComponent(run.pipelineName)}`}>
                {run.pipelineName} r{String(run.revision)}
              </a>
            )}
          </dd>
          <dt>State</dt>
          <dd data-testid="run-state">
            <Badge state={runStateName(monitor.state)} />
          </dd>
          <dt>Created</dt>
          <dd>{formatTime(run?.createTime)}</dd>
        </dl>
        {monitor.taskOpen && monitor.state === RunState.WAITING_FOR_INPUT && (
          <p className="notice">
            This run waits for a person. <a href={`#/tasks?run=${runId}`}>Open its task</a>
          </p>
        )}
        {paused && (
          <p className="notice paused" data-testid="paused-banner">
            This run is paused{held.size ? ` before ${[...held].join(", ")}` : ""}. Step (F10) runs the paused step and pauses
            again; Continue (F8) runs on to the next breakpoint.
          </p>
        )}
        {monitor.error && (
          <div className="error" role="alert" data-testid="run-error">
            <strong>Run error</strong> {monitor.error.stepId && <code>{monitor.error.stepId}</code>} {monitor.error.kind}:{" "}
            {monitor.error.message}
          </div>
        )}
        <GraphView
          graph={graph}
          label="The run's steps, coloured by state"
          stateOf={(id) => {
            if (held.has(id)) {
              return "PAUSED";
            }
            const step = latest.get(id);
            return step ? stepStateName(step.state) : undefined;
          }}
          selected={shown?.id}
          onSelect={(id) => {
            const step = latest.get(id);
            if (step) {
              setSelected(step.key);
            }
          }}
        />
      </Section>
      {monitor.debugged && (
        <DebuggerPanel
          runId={runId}
          paused={paused}
          ended={final}
          status={
            final
              ? `The run ended: ${stateWords}.`
              : `The run is ${stateWords}; it pauses again at the next breakpoint.`
          }
          inspection={inspection}
          version={version}
        />
      )}
      <Section title="Timeline">
        <div className="table-wrap">
          <table data-testid="timeline">
            <thead>
              <tr>
                <th>Step</th>
                <th>State</th>
                <th>Attempts</th>
                <th>Duration</th>
                <th className="wide">Time</th>
              </tr>
            </thead>
            <tbody>
              {monitor.steps.map((step) => {
                const state = held.has(step.id) && latest.get(step.id) === step ? "PAUSED" : stepStateName(step.state);
                const left = step.start !== undefined ? ((step.start - origin) / span) * 100 : 0;
                const right = step.end ?? (step.start !== undefined ? Date.now() : undefined);
                const width = step.start !== undefined && right !== undefined ? Math.max(1, ((right - step.start) / span) * 100) : 0;
                return (
                  <tr key={step.key} data-step={step.id} className={selected === step.key ? "selected" : ""}>
                    <td>
                      <button className="link" onClick={() => setSelected(step.key)}>
                        {step.id}
                        {step.iteration > 0 ? ` #${step.iteration}` : ""}
                      </button>
                      {step.error && (
                        <div className="field-error" data-testid="step-error">
                          {step.error.kind}: {step.error.message}
                        </div>
                      )}
                    </td>
                    <td>
                      <Badge state={state} />
                    </td>
                    <td data-testid="attempts">{step.attempts}</td>
                    <td className="nowrap">{formatDuration(step.end !== undefined && step.start !== undefined ? step.end - step.start : undefined)}</td>
                    <td className="wide">
                      <div className="bar-track">
                        <div className={`bar state-${state.toLowerCase()}`} style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }} />
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {shown && (
          <div className="detail">
            <h3>
              {shown.id} {shown.iteration > 0 ? `#${shown.iteration}` : ""}
            </h3>
            {shown.error && <p className="field-error">{shown.error.kind}: {shown.error.message}</p>}
            {shown.output && <Json value={shown.output} />}
          </div>
        )}
      </Section>
      <Section title="Outputs">
        {monitor.outputs ? <Json value={monitor.outputs} /> : <p className="muted">{final ? "No outputs." : "Not yet."}</p>}
      </Section>
      <Section title="Events">
        <ol className="log" data-testid="events">
          {monitor.log.map((line) => (
            <li key={String(line.sequence)}>
              <span className="muted">#{String(line.sequence)}</span> {line.text}
            </li>
          ))}
        </ol>
      </Section>
    </>
  );
}
