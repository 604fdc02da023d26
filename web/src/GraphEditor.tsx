/** The visual side of the editor: the definition's graph, and buttons that change the JSON. */
import { useMemo, useState } from "react";
import { addStep, addTransition, graphOf, removeStep, removeTransition, setStart, STEP_TYPES } from "./definitionGraph";
import type { JsonObject } from "./forms";
import { layout } from "./graph";
import { GraphView } from "./GraphView";

interface Props {
  text: string;
  onChange: (text: string) => void;
}

export function GraphEditor({ text, onChange }: Props) {
  const definition = useMemo((): JsonObject | null => {
    try {
      const parsed = JSON.parse(text);
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }, [text]);
  const [selected, setSelected] = useState<string | null>(null);
  const [newId, setNewId] = useState("");
  const [newType, setNewType] = useState<string>("pass");
  const [target, setTarget] = useState("");
  const [problem, setProblem] = useState<string | null>(null);

  if (definition === null) {
    return <p className="muted">The graph shows once the JSON parses.</p>;
  }
  const graph = graphOf(definition);
  const ids = graph.steps.map((s) => s.id);
  const current = selected && ids.includes(selected) ? selected : null;
  const apply = (change: () => JsonObject) => {
    try {
      onChange(JSON.stringify(change(), null, 2) + "\n");
      setProblem(null);
      return true;
    } catch (e) {
      setProblem((e as Error).message);
      return false;
    }
  };

  return (
    <div className="graph-editor" data-testid="graph-editor">
      <GraphView
        graph={layout(graph)}
        label="The pipeline's steps; choose one to edit its links"
        selected={current}
        onSelect={(id) => setSelected(id === current ? null : id)}
        start={graph.flow?.startAt}
      />
      <div className="graph-tools">
        <form
          className="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            if (apply(() => addStep(definition, { id: newId, type: newType }, current ?? undefined))) {
              setSelected(newId.trim());
              setNewId("");
            }
          }}
        >
          <label htmlFor="new-step-id">New step</label>
          <input id="new-step-id" value={newId} placeholder="id" onChange={(e) => setNewId(e.target.value)} />
          <label htmlFor="new-step-type" className="sr-only">
            Type
          </label>
          <select id="new-step-type" value={newType} onChange={(e) => setNewType(e.target.value)}>
            {STEP_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          <button type="submit" disabled={!newId.trim()}>
            {current ? `Add after ${current}` : "Add step"}
          </button>
        </form>
        {current && (
          <div className="toolbar">
            <strong>{current}</strong>
            <label htmlFor="link-target">links to</label>
            <select id="link-target" value={target} onChange={(e) => setTarget(e.target.value)}>
              <option value="">Choose…</option>
              {ids.filter((id) => id !== current).map((id) => (
                <option key={id}>{id}</option>
              ))}
            </select>
            <button disabled={!target} onClick={() => apply(() => addTransition(definition, current, target))}>
              Link
            </button>
            <button onClick={() => apply(() => setStart(definition, current))} disabled={graph.flow?.startAt === current}>
              Make start
            </button>
            <button className="danger" onClick={() => apply(() => removeStep(definition, current)) && setSelected(null)}>
              Remove step
            </button>
          </div>
        )}
        {problem && (
          <div className="field-error" role="alert">
            {problem}
          </div>
        )}
        {(graph.flow?.transitions.length ?? 0) > 0 && (
          <ul className="transitions">
            {graph.flow!.transitions.map((t, i) => (
              <li key={i}>
                {t.from} → {t.to}{" "}
                <button className="link" aria-label={`Remove ${t.from} to ${t.to}`} onClick={() => apply(() => removeTransition(definition, i))}>
                  remove
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
