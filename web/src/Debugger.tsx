/**
 * The debugger view of a paused run: which step it holds and why, that step's
 * resolved input (editable, sent as `inputs` with Step or Continue), the outputs so
 * far, and every transition condition evaluated (why a branch was or was not taken).
 */
import { useEffect, useState } from "react";
import type { InspectRunResponse } from "@ia-modules/sdk";
import { client } from "./api";
import { debugCommandOf, edgeVerdicts, inputEdits, type DebugCommand, type Evaluation } from "./debugging";
import type { JsonObject } from "./forms";
import { ErrorBox, Json, Section } from "./ui";

export interface Inspection {
  inspection?: InspectRunResponse;
  /** Whether `inspection` answers for the current `version` (else it is the one before). */
  fresh: boolean;
  error?: unknown;
}

/**
 * InspectRun for `runId`, fetched again whenever `version` changes while `active`.
 * A failure is returned, not thrown: the debugger shows it and the monitor goes on.
 */
export function useInspection(runId: string, active: boolean, version: string): Inspection {
  const [answer, setAnswer] = useState<{ inspection?: InspectRunResponse; version: string }>({ version: "" });
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    if (!active) {
      return;
    }
    const abort = new AbortController();
    client.executor
      .inspectRun({ runId }, { signal: abort.signal })
      .then((inspection) => {
        setAnswer({ inspection, version });
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [runId, active, version]);
  return { inspection: answer.inspection, fresh: answer.version === version, error };
}

function isTextField(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element && (["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName) || element.isContentEditable);
}

interface Props {
  runId: string;
  /** Whether the run is paused now (Step and Continue are offered only then). */
  paused: boolean;
  /** Whether the run has ended: then only what it evaluated is shown, no buttons. */
  ended: boolean;
  /** What to say when the run is not paused, e.g. "The run is running." */
  status: string;
  inspection: Inspection;
  /** The last event seen: after Step or Continue, the buttons wait for the run to move on. */
  version: string;
}

export function DebuggerPanel({ runId, paused, ended, status, inspection: answer, version }: Props) {
  const { inspection, fresh, error: inspectionError } = answer;
  const held = paused ? (inspection?.paused ?? []) : [];
  const [chosen, setChosen] = useState<string>("");
  const current = held.find((p) => p.stepId === chosen) ?? held[0];
  const currentKey = current ? `${current.stepId}#${current.iteration}` : "";
  const original = (current?.input ?? {}) as JsonObject;
  const originalText = JSON.stringify(original, null, 2);
  const [draft, setDraft] = useState({ key: "", text: "" });
  const [busy, setBusy] = useState<DebugCommand | null>(null);
  const [sentAt, setSentAt] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();

  // A newly paused step (or its input as the executor now holds it) starts a fresh draft.
  useEffect(() => {
    setDraft({ key: currentKey, text: originalText });
  }, [currentKey, originalText]);

  const text = draft.key === currentKey ? draft.text : originalText;
  const edit = inputEdits(original, text);
  const edited = Object.keys(edit.edits);

  // The run's events, not the reply, move the monitor on: a reply may be older than
  // an event already shown (the run may have paused again before the reply came).
  const blocked = !current || !fresh || busy !== null || sentAt === version || !!edit.error;
  const send = async (command: DebugCommand) => {
    if (blocked || !current) {
      return;
    }
    setBusy(command);
    setError(undefined);
    try {
      const request = { runId, stepId: current.stepId, inputs: edit.edits };
      await (command === "step" ? client.executor.stepRun(request) : client.executor.resumeRun(request));
      setSentAt(version);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  useEffect(() => {
    if (!paused) {
      return;
    }
    const onKey = (e: KeyboardEvent) => {
      const command = debugCommandOf({
        key: e.key,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
        altKey: e.altKey,
        inTextField: isTextField(e.target),
      });
      if (command) {
        e.preventDefault();
        void send(command);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const verdicts = edgeVerdicts((inspection?.conditions ?? []) as Evaluation[]);
  const outputs = (inspection?.outputs ?? {}) as JsonObject;

  return (
    <Section
      title="Debugger"
      actions={
        !ended && (
          <>
            <button
              className="primary"
              onClick={() => void send("step")}
              disabled={blocked}
              aria-keyshortcuts="F10 n"
              title="Run the paused step, then pause before the next one (F10 or n)"
            >
              {busy === "step" ? "Stepping…" : "Step"} <kbd>F10</kbd>
            </button>
            <button
              onClick={() => void send("continue")}
              disabled={blocked}
              aria-keyshortcuts="F8 c"
              title="Run on until the next breakpoint or the end (F8 or c)"
            >
              {busy === "continue" ? "Continuing…" : "Continue"} <kbd>F8</kbd>
            </button>
          </>
        )
      }
    >
      <div data-testid="debugger">
        <ErrorBox error={inspectionError} title="Cannot inspect the run" />
        <ErrorBox error={error} />
        {current ? (
          <p className="notice paused" data-testid="paused-at">
            Paused before <code>{current.stepId}</code>
            {current.iteration > 0 ? ` (iteration ${current.iteration})` : ""}: {current.reason}.
          </p>
        ) : (
          <p className="muted" data-testid="paused-at">
            {paused ? "Paused; reading what it holds…" : status}
          </p>
        )}
        {held.length > 1 && (
          <div className="toolbar">
            <label htmlFor="debug-step">Paused step</label>
            <select id="debug-step" value={current?.stepId} onChange={(e) => setChosen(e.target.value)}>
              {held.map((p) => (
                <option key={p.stepId} value={p.stepId}>
                  {p.stepId}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="debug-grid">
          {current && (
            <div className={`field${edit.error ? " invalid" : ""}`}>
              <label htmlFor="debug-input">Input of {current.stepId} (JSON, as it will run)</label>
              <textarea
                id="debug-input"
                rows={Math.min(16, Math.max(5, text.split("\n").length + 1))}
                spellCheck={false}
                value={text}
                onChange={(e) => setDraft({ key: currentKey, text: e.target.value })}
                aria-describedby="debug-input-help"
                aria-invalid={!!edit.error}
              />
              <div id="debug-input-help" className={edit.error ? "field-error" : "muted small"} data-testid="input-edit">
                {edit.error ??
                  (edited.length
                    ? `Edited: ${edited.join(", ")}. Step or Continue sends the edit; the run records it.`
                    : "Edit a field, then Step or Continue: the step runs with the edited input.")}
              </div>
              {edited.length > 0 && (
                <button className="link" onClick={() => setDraft({ key: currentKey, text: originalText })}>
                  Undo the edits
                </button>
              )}
            </div>
          )}
          <div>
            <h3>{ended ? "Step outputs" : "Outputs so far"}</h3>
            {Object.keys(outputs).length ? <Json value={outputs} /> : <p className="muted">No step has succeeded yet.</p>}
          </div>
        </div>
        <h3>Conditions evaluated</h3>
        {verdicts.length === 0 ? (
          <p className="muted">No transition condition evaluated yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="conditions" data-testid="conditions">
              <thead>
                <tr>
                  <th>Transition</th>
                  <th>Verdict</th>
                  <th>Why</th>
                  <th>Values read</th>
                </tr>
              </thead>
              <tbody>
                {verdicts.map(({ from, to, latest, count }) => (
                  <tr key={`${from}->${to}`} data-edge={`${from}->${to}`} data-fired={String(latest.fired)}>
                    <td className="nowrap">
                      <code>{from}</code> → <code>{to}</code>
                      {count > 1 && <div className="muted small">latest of {count}, iteration {latest.iteration}</div>}
                    </td>
                    <td>
                      <span className={`verdict ${latest.fired ? "taken" : "not-taken"}`}>
                        {latest.fired ? "taken" : "not taken"}
                      </span>
                    </td>
                    <td data-testid="condition-reason">
                      <code className="condition-text">{latest.condition}</code>
                      <div>{latest.reason}</div>
                    </td>
                    <td data-label="Values read">
                      {Object.keys(latest.values ?? {}).length ? (
                        <code className="condition-text">{JSON.stringify(latest.values)}</code>
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </Section>
  );
}
