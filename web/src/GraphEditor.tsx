/**
 * The visual side of the editor: the definition's graph, and controls that change
 * the JSON (the one source both views show): steps from the built-in types and
 * the step plugins, links, each link's condition, each step's config.
 */
import { useMemo, useState } from "react";
import { PluginKind } from "@ia-modules/sdk";
import { ConditionEditor } from "./ConditionEditor";
import { describeCondition } from "./conditionForm";
import { ConfigForm } from "./ConfigForm";
import { configFields, configProblems } from "./configForm";
import {
  addStep,
  addTransition,
  graphOf,
  removeStep,
  removeTransition,
  setCondition,
  setStart,
  setStepConfig,
  stepOf,
  STEP_TYPES,
  transitionsOf,
} from "./definitionGraph";
import type { JsonObject } from "./forms";
import { layout } from "./graph";
import { GraphView } from "./GraphView";
import { ofKind, usePlugins } from "./pluginCatalog";
import { ErrorBox } from "./ui";

const PLUGIN_PREFIX = "plugin:";

function parameterNames(definition: JsonObject): string[] {
  const names = new Set<string>();
  const parameters = definition.parameters;
  if (parameters && typeof parameters === "object" && !Array.isArray(parameters)) {
    Object.keys(parameters).forEach((n) => names.add(n));
  }
  if (Array.isArray(definition.parameter_specs)) {
    for (const spec of definition.parameter_specs) {
      if (spec && typeof spec === "object" && !Array.isArray(spec) && typeof spec.name === "string") {
        names.add(spec.name);
      }
    }
  }
  return [...names].sort();
}

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
  const [editing, setEditing] = useState<number | null>(null);
  const { plugins, error: pluginError } = usePlugins();

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
            const kind = newType.startsWith(PLUGIN_PREFIX)
              ? { plugin: newType.slice(PLUGIN_PREFIX.length) }
              : { type: newType };
            if (apply(() => addStep(definition, { id: newId, ...kind }, current ?? undefined))) {
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
            <optgroup label="Built-in types">
              {STEP_TYPES.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </optgroup>
            {ofKind(plugins, PluginKind.STEP).length > 0 && (
              <optgroup label="Step plugins">
                {ofKind(plugins, PluginKind.STEP).map((p) => (
                  <option key={p.name} value={`${PLUGIN_PREFIX}${p.name}`}>
                    {p.name}
                  </option>
                ))}
              </optgroup>
            )}
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
        {current && (
          <StepConfig
            // A config changed elsewhere (the JSON view, or applied here) starts the form afresh.
            key={`${current}:${JSON.stringify(stepOf(definition, current)?.config ?? {})}`}
            definition={definition}
            id={current}
            plugins={plugins}
            onApply={(config) => apply(() => setStepConfig(definition, current, config))}
          />
        )}
        <ErrorBox error={pluginError} title="The plugin host did not answer: plugins and their config forms are missing" />
        {(graph.flow?.transitions.length ?? 0) > 0 && (
          <ul className="transitions" data-testid="transitions">
            {graph.flow!.transitions.map((t, i) => {
              const condition = transitionsOf(definition)[i]?.condition;
              return (
                <li key={i} data-transition={`${t.from}->${t.to}`}>
                  {t.from} → {t.to} <span className="muted" data-testid="condition">{describeCondition(condition)}</span>{" "}
                  <button
                    className="link"
                    aria-expanded={editing === i}
                    aria-label={`Condition of ${t.from} to ${t.to}`}
                    onClick={() => setEditing(editing === i ? null : i)}
                  >
                    condition
                  </button>{" "}
                  <button className="link" aria-label={`Remove ${t.from} to ${t.to}`} onClick={() => apply(() => removeTransition(definition, i))}>
                    remove
                  </button>
                  {editing === i && (
                    <ConditionEditor
                      idPrefix={`condition-${i}`}
                      condition={condition}
                      parameters={parameterNames(definition)}
                      plugins={plugins}
                      onApply={(next) => apply(() => setCondition(definition, i, next)) && setEditing(null)}
                      onCancel={() => setEditing(null)}
                    />
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </div>
  );
}

/** The selected step's config: a form from its plugin's config schema, and the JSON of it all. */
function StepConfig({
  definition,
  id,
  plugins,
  onApply,
}: {
  definition: JsonObject;
  id: string;
  plugins: ReturnType<typeof usePlugins>["plugins"];
  onApply: (config: JsonObject) => boolean;
}) {
  const step = stepOf(definition, id) ?? {};
  const original = (step.config && typeof step.config === "object" && !Array.isArray(step.config) ? step.config : {}) as JsonObject;
  const [config, setConfig] = useState<JsonObject>(original);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const pluginName = typeof step.plugin === "string" ? step.plugin : "";
  const plugin = plugins.find((p) => p.name === pluginName);
  const schema = plugin?.configSchema;
  const changed = JSON.stringify(config) !== JSON.stringify(original);
  return (
    <form
      className="step-config"
      data-testid="step-config"
      onSubmit={(e) => {
        e.preventDefault();
        const problems = configProblems(configFields(schema), config);
        setErrors(problems);
        if (Object.keys(problems).length === 0) {
          onApply(config);
        }
      }}
    >
      <h3>
        Config of {id}{" "}
        <span className="muted small">
          {pluginName ? `plugin ${pluginName}${plugin ? "" : " (not installed)"}` : `type ${String(step.type ?? "")}`}
        </span>
      </h3>
      {plugin?.description && <p className="muted small">{plugin.description}</p>}
      <ConfigForm idPrefix={`config-${id}`} schema={schema} config={config} onChange={setConfig} errors={errors} />
      <div className="actions">
        <button type="submit" className="primary" disabled={!changed}>
          Apply config
        </button>
      </div>
    </form>
  );
}
