/** Runs, newest first, filtered by pipeline and state. */
import { useEffect, useState } from "react";
import { RunState, type Run } from "@ia-modules/sdk";
import { client, formatDuration, formatTime, millis, runStateName } from "../api";
import { Badge, ErrorBox, Section } from "../ui";

const PAGE_SIZE = 25;
const STATES = [
  RunState.PENDING,
  RunState.RUNNING,
  RunState.WAITING_FOR_INPUT,
  RunState.PAUSED,
  RunState.SUCCEEDED,
  RunState.FAILED,
  RunState.CANCELLED,
  RunState.TIMED_OUT,
];

export function RunsPage({ pipeline: initialPipeline }: { pipeline?: string }) {
  const [pipeline, setPipeline] = useState(initialPipeline ?? "");
  const [query, setQuery] = useState(initialPipeline ?? "");
  const [state, setState] = useState<string>("");
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState<{ runs: Run[]; next: string } | null>(null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const timer = setTimeout(() => {
      setQuery(pipeline.trim());
      setTokens([""]);
    }, 250);
    return () => clearTimeout(timer);
  }, [pipeline]);

  const token = tokens[tokens.length - 1];
  useEffect(() => {
    const abort = new AbortController();
    client.executor
      .listRuns(
        { pipelineName: query, states: state ? [Number(state) as RunState] : [], pageSize: PAGE_SIZE, pageToken: token },
        { signal: abort.signal },
      )
      .then((reply) => {
        setPage({ runs: reply.runs, next: reply.nextPageToken });
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [query, state, token]);

  return (
    <Section title="Runs">
      <div className="toolbar">
        <label htmlFor="runs-pipeline">Pipeline</label>
        <input id="runs-pipeline" type="search" placeholder="any" value={pipeline} onChange={(e) => setPipeline(e.target.value)} />
        <label htmlFor="runs-state">State</label>
        <select
          id="runs-state"
          value={state}
          onChange={(e) => {
            setState(e.target.value);
            setTokens([""]);
          }}
        >
          <option value="">any</option>
          {STATES.map((s) => (
            <option key={s} value={String(s)}>
              {runStateName(s).replace(/_/g, " ").toLowerCase()}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={error} />
      {page && page.runs.length === 0 && <p className="muted">No run matches.</p>}
      {page && page.runs.length > 0 && (
        <div className="table-wrap">
          <table data-testid="runs">
            <thead>
              <tr>
                <th>Run</th>
                <th>Pipeline</th>
                <th>State</th>
                <th>Created</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {page.runs.map((run) => {
                const start = millis(run.startTime);
                const end = millis(run.endTime);
                return (
                  <tr key={run.runId} data-run={run.runId}>
                    <td>
                      <a href={`#/runs/${run.runId}`}>
                        <code>{run.runId.slice(0, 12)}</code>
                      </a>
                    </td>
                    <td>
                      {run.pipelineName} <span className="muted">r{String(run.revision)}</span>
                    </td>
                    <td>
                      <Badge state={runStateName(run.state)} />
                    </td>
                    <td className="nowrap">{formatTime(run.createTime)}</td>
                    <td className="nowrap">{formatDuration(start !== undefined && end !== undefined ? end - start : undefined)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        <button disabled={tokens.length < 2} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous
        </button>
        <span className="muted">Page {tokens.length}</span>
        <button disabled={!page?.next} onClick={() => page && setTokens((t) => [...t, page.next])}>
          Next
        </button>
      </div>
    </Section>
  );
}
