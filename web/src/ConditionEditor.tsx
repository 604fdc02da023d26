/** Edits one transition's condition: always, a parameter, an expression, CEL, or a condition plugin with its config form. */
import { useState } from "react";
import { PluginKind, type Plugin } from "@ia-modules/sdk";
import { CONDITION_KINDS, conditionOf, formOf, OPERATORS, type ConditionForm } from "./conditionForm";
import { ConfigForm } from "./ConfigForm";
import { configFields, configProblems } from "./configForm";
import type { JsonObject, JsonValue } from "./forms";
import { ofKind } from "./pluginCatalog";

interface Props {
  /** Distinguishes this editor's input ids from others on the page. */
  idPrefix: string;
  condition: JsonValue | undefined;
  parameters: string[];
  plugins: Plugin[];
  onApply: (condition: JsonObject | undefined) => void;
  onCancel: () => void;
}

const KIND_LABELS: Record<string, string> = {
  always: "Always",
  parameter: "Parameter is true",
  expression: "Expression",
  cel: "CEL",
  plugin: "Condition plugin",
};

export function ConditionEditor({ idPrefix, condition, parameters, plugins, onApply, onCancel }: Props) {
  const [form, setForm] = useState<ConditionForm>(() => formOf(condition));
  const [problem, setProblem] = useState<{ field: string; message: string } | null>(null);
  const [configErrors, setConfigErrors] = useState<Record<string, string>>({});
  const set = (changes: Partial<ConditionForm>) => {
    setForm((f) => ({ ...f, ...changes }));
    setProblem(null);
  };
  const id = (name: string) => `${idPrefix}-${name}`;
  const conditionPlugins = ofKind(plugins, PluginKind.CONDITION);
  const chosenPlugin = plugins.find((p) => p.name === form.plugin);
  const errorOf = (field: string) =>
    problem?.field === field ? (
      <div className="field-error" id={id(`${field}-error`)} role="alert">
        {problem.message}
      </div>
    ) : null;

  return (
    <form
      className="condition-editor"
      data-testid="condition-editor"
      onSubmit={(e) => {
        e.preventDefault();
        const result = conditionOf(form);
        if (result.problem) {
          setProblem(result.problem);
          document.getElementById(id(result.problem.field))?.focus();
          return;
        }
        // The plugin checks its config only when the run gets there: check it against its schema now.
        const problems = form.kind === "plugin" ? configProblems(configFields(chosenPlugin?.configSchema), form.config) : {};
        setConfigErrors(problems);
        if (Object.keys(problems).length > 0) {
          document.getElementById(id(`config-${Object.keys(problems)[0]}`))?.focus();
          return;
        }
        onApply(result.condition);
      }}
      onKeyDown={(e) => e.key === "Escape" && onCancel()}
    >
      <fieldset className="radio-group">
        <legend>When</legend>
        {CONDITION_KINDS.map((kind) => (
          <label key={kind} className="inline">
            <input type="radio" name={id("kind")} checked={form.kind === kind} onChange={() => set({ kind })} /> {KIND_LABELS[kind]}
          </label>
        ))}
      </fieldset>
      {form.kind === "parameter" && (
        <div className="field">
          <label htmlFor={id("parameter")}>Parameter</label>
          <input
            id={id("parameter")}
            list={id("parameters")}
            value={form.parameter}
            onChange={(e) => set({ parameter: e.target.value })}
            aria-invalid={problem?.field === "parameter"}
          />
          <datalist id={id("parameters")}>
            {parameters.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
          {errorOf("parameter")}
        </div>
      )}
      {form.kind === "expression" && (
        <div className="expression-fields">
          <div className="field">
            <label htmlFor={id("source")}>Source</label>
            <input
              id={id("source")}
              placeholder="result.score"
              value={form.source}
              onChange={(e) => set({ source: e.target.value })}
              aria-invalid={problem?.field === "source"}
            />
            {errorOf("source")}
          </div>
          <div className="field">
            <label htmlFor={id("operator")}>Operator</label>
            <select id={id("operator")} value={form.operator} onChange={(e) => set({ operator: e.target.value })}>
              {OPERATORS.map(([name, symbol]) => (
                <option key={name} value={name}>
                  {symbol}
                </option>
              ))}
            </select>
          </div>
          {form.operator !== "exists" && (
            <div className="field">
              <label htmlFor={id("value")}>Value</label>
              <input
                id={id("value")}
                placeholder='0.8, "text", [1, 2] or {{ parameters.x }}'
                value={form.value}
                onChange={(e) => set({ value: e.target.value })}
                aria-describedby={id("value-help")}
              />
              <div className="muted small" id={id("value-help")}>
                JSON, or plain text for a string
              </div>
            </div>
          )}
        </div>
      )}
      {form.kind === "cel" && (
        <div className="field">
          <label htmlFor={id("expr")}>CEL expression</label>
          <textarea
            id={id("expr")}
            rows={2}
            placeholder="result.approved == true && parameters.amount < 500"
            value={form.expr}
            onChange={(e) => set({ expr: e.target.value })}
            aria-invalid={problem?.field === "expr"}
          />
          {errorOf("expr")}
        </div>
      )}
      {form.kind === "plugin" && (
        <>
          <div className="field">
            <label htmlFor={id("plugin")}>Plugin</label>
            <select
              id={id("plugin")}
              value={form.plugin}
              onChange={(e) => set({ plugin: e.target.value, config: {} })}
              aria-invalid={problem?.field === "plugin"}
            >
              <option value="">Choose…</option>
              {/* A plugin the host does not list (yet) stays choosable, so a definition is never silently changed. */}
              {form.plugin && !conditionPlugins.some((p) => p.name === form.plugin) && <option>{form.plugin}</option>}
              {conditionPlugins.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                </option>
              ))}
            </select>
            {chosenPlugin?.description && <div className="muted small">{chosenPlugin.description}</div>}
            {errorOf("plugin")}
          </div>
          <ConfigForm
            key={form.plugin}
            idPrefix={id("config")}
            schema={chosenPlugin?.configSchema}
            config={form.config}
            onChange={(config) => set({ config })}
            errors={configErrors}
          />
        </>
      )}
      <div className="actions">
        <button type="submit" className="primary">
          Apply condition
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
