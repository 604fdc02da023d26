/** The JSON editor: validated live by RegistryService.ValidatePipeline; save creates or updates. */
import { useEffect, useRef, useState } from "react";
import { FindingSeverity, type ValidatePipelineResponse } from "@ia-modules/sdk";
import { client, definitionJson } from "../api";
import { GraphEditor } from "../GraphEditor";
import { ErrorBox, Section } from "../ui";

const STARTER = {
  name: "my-pipeline",
  version: "1.0",
  description: "",
  parameters: { who: "world" },
  parameter_specs: [{ name: "who", description: "Who to greet.", schema: { type: "string", minLength: 1 } }],
  steps: [{ id: "greet", type: "pass", inputs: { message: "Hello, {{ parameters.who }}!" } }],
  flow: { start_at: "greet", transitions: [] },
  outputs: { greeting: "{{ greet.message }}" },
};

export function EditorPage({ name: opened }: { name?: string }) {
  // A pipeline created here is edited from then on, without reloading the page.
  const [created, setCreated] = useState<string>();
  const name = opened ?? created;
  const [text, setText] = useState(name ? "" : JSON.stringify(STARTER, null, 2) + "\n");
  const [etag, setEtag] = useState("");
  const [result, setResult] = useState<ValidatePipelineResponse | null>(null);
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string | null>(null);
  const [view, setView] = useState<"json" | "graph">("json");
  const editor = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!opened) {
      return;
    }
    client
      .getPipeline(opened)
      .then((version) => {
        setText(JSON.stringify(definitionJson(version.definition), null, 2) + "\n");
        setEtag(version.etag);
      })
      .catch(setError);
  }, [opened]);

  useEffect(() => {
    if (!text.trim()) {
      return;
    }
    const abort = new AbortController();
    setChecking(true);
    const timer = setTimeout(() => {
      client
        .validatePipeline(text, { signal: abort.signal })
        .then((reply) => {
          setResult(reply);
          setError(undefined);
        })
        .catch((e) => abort.signal.aborted || setError(e))
        .finally(() => abort.signal.aborted || setChecking(false));
    }, 300);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [text]);

  const goToLine = (line: number) => {
    const area = editor.current;
    if (!area || line < 1) {
      return;
    }
    const lines = text.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
    area.scrollTop = (line - 3) * 20;
  };

  const save = async () => {
    setSaved(null);
    try {
      const checked = await client.validatePipeline(text);
      setResult(checked);
      if (!checked.valid || !checked.pipeline) {
        return;
      }
      const reply = name
        ? await client.updatePipeline(checked.pipeline, { etag })
        : await client.createPipeline(checked.pipeline);
      const version = reply.pipeline!;
      setEtag(version.etag);
      setSaved(`Saved ${version.name} revision ${version.revision}.`);
      setError(undefined);
      if (!name) {
        setCreated(version.name);
        // The address names the pipeline now; replaceState fires no hashchange, so nothing reloads.
        window.history.replaceState(null, "", `#/editor/${encodeURIComponent(version.name)}`);
      }
    } catch (e) {
      setError(e);
    }
  };

  const lineCount = text.split("\n").length;
  const findings = result?.findings ?? [];
  const errors = findings.filter((f) => f.severity === FindingSeverity.ERROR).length;
  return (
    <Section
      title={name ? `Edit ${name}` : "New pipeline"}
      actions={
        <>
          {name && (
            <a className="button" href={`#/pipelines/${encodeURIComponent(name)}`}>
              Versions
            </a>
          )}
          <button className="primary" onClick={save} disabled={!result?.valid}>
            {name ? "Save new revision" : "Create"}
          </button>
        </>
      }
    >
      <div className="tabs" role="tablist" aria-label="Edit as">
        {(["json", "graph"] as const).map((v) => (
          <button key={v} role="tab" aria-selected={view === v} className={view === v ? "primary" : ""} onClick={() => setView(v)}>
            {v === "json" ? "JSON" : "Graph"}
          </button>
        ))}
      </div>
      {view === "graph" && <GraphEditor text={text} onChange={setText} />}
      <div className="editor" hidden={view !== "json"}>
        <div className="gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => (
            <div key={i}>{i + 1}</div>
          ))}
        </div>
        <label htmlFor="definition" className="sr-only">
          Pipeline definition (JSON)
        </label>
        <textarea
          id="definition"
          ref={editor}
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onScroll={(e) => gutter.current && (gutter.current.scrollTop = e.currentTarget.scrollTop)}
        />
      </div>
      <div className="status-line" aria-live="polite" data-testid="validation">
        {checking
          ? "Checking…"
          : result
            ? result.valid
              ? `Valid (${result.sourceDialect} dialect${findings.length ? `, ${findings.length} warning(s)` : ""}).`
              : `${errors} error(s).`
            : ""}
      </div>
      {saved && (
        <p className="ok" role="status">
          {saved}
        </p>
      )}
      <ErrorBox error={error} />
      {findings.length > 0 && (
        <ul className="findings" data-testid="findings">
          {findings.map((f, i) => (
            <li key={i} className={f.severity === FindingSeverity.ERROR ? "finding-error" : "finding-warning"}>
              <button className="link" onClick={() => goToLine(f.line)} disabled={!f.line}>
                {f.line ? `line ${f.line}` : "—"}
              </button>{" "}
              <strong>{f.severity === FindingSeverity.ERROR ? "error" : "warning"}</strong> <code>{f.path}</code>{" "}
              {f.message}
              {f.hint && <span className="muted"> — {f.hint}</span>}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
