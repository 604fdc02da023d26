/** The plugins the plugin host knows, with their health; one plugin's details with its config schema. */
import { useEffect, useState } from "react";
import { PluginHealth, PluginKind, PluginSource, SandboxMode, type Plugin } from "@ia-modules/sdk";
import { client, formatTime, take } from "../api";
import type { JsonObject } from "../forms";
import { ErrorBox, Json, Section } from "../ui";

// Health shown in the colours of the step states.
const HEALTH_STATE: Record<string, string> = {
  SERVING: "SUCCEEDED",
  STARTING: "RUNNING",
  RESTARTING: "RETRYING",
  FAILED: "FAILED",
  STOPPED: "CANCELLED",
};

export function PluginsPage() {
  const [plugins, setPlugins] = useState<Plugin[] | null>(null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const abort = new AbortController();
    take(client.listPlugins({ pageSize: 200, signal: abort.signal }))
      .then(setPlugins)
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, []);

  return (
    <Section title="Plugins">
      <ErrorBox error={error} title="The plugin host did not answer" />
      {plugins && plugins.length === 0 && <p className="muted" data-testid="no-plugins">No plugin is installed.</p>}
      {plugins && plugins.length > 0 && (
        <div className="table-wrap">
          <table data-testid="plugins">
            <thead>
              <tr>
                <th>Name</th>
                <th className="wide">Version</th>
                <th>Kinds</th>
                <th>Health</th>
                <th>Restarts</th>
                <th className="wide">Source</th>
                <th className="wide">Sandbox</th>
                <th className="wide">Started</th>
              </tr>
            </thead>
            <tbody>
              {plugins.map((p) => {
                const health = PluginHealth[p.health] ?? "UNSPECIFIED";
                return (
                  <tr key={p.name} data-plugin={p.name}>
                    <td>
                      <a href={`#/plugins/${encodeURIComponent(p.name)}`}>
                        <strong>{p.name}</strong>
                      </a>
                      {p.description && <div className="muted small">{p.description}</div>}
                      {p.lastError && <div className="field-error">{p.lastError}</div>}
                    </td>
                    <td className="wide">{p.version}</td>
                    <td>{p.kinds.map((k) => (PluginKind[k] ?? "").toLowerCase()).join(", ")}</td>
                    <td>
                      <span className={`badge state-${(HEALTH_STATE[health] ?? "PENDING").toLowerCase()}`}>
                        {health.toLowerCase()}
                      </span>
                    </td>
                    <td>{p.restarts}</td>
                    <td className="wide">{(PluginSource[p.source] ?? "").toLowerCase()}</td>
                    <td className="wide">{(SandboxMode[p.sandbox] ?? "").toLowerCase()}</td>
                    <td className="wide nowrap">{formatTime(p.startTime)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

/** Each property of a config schema: name, type (or the allowed values), whether required, description. */
function schemaRows(schema: JsonObject | undefined) {
  const properties = (schema?.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set(Array.isArray(schema?.required) ? schema.required.map(String) : []);
  return Object.entries(properties)
    .map(([name, property]) => ({
      name,
      type: Array.isArray(property.enum)
        ? property.enum.map((v) => JSON.stringify(v)).join(" | ")
        : Array.isArray(property.type)
          ? property.type.join(" | ")
          : String(property.type ?? "any"),
      required: required.has(name),
      description: typeof property.description === "string" ? property.description : "",
    }))
    .sort((a, b) => Number(b.required) - Number(a.required) || a.name.localeCompare(b.name));
}

function healthBadge(plugin: Plugin) {
  const health = PluginHealth[plugin.health] ?? "UNSPECIFIED";
  return (
    <span className={`badge state-${(HEALTH_STATE[health] ?? "PENDING").toLowerCase()}`} data-testid="health">
      {health.toLowerCase()}
    </span>
  );
}

/** One plugin (GetPlugin): where it comes from, its sandbox grants and limits, and its config schema as fields. */
export function PluginPage({ name }: { name: string }) {
  const [plugin, setPlugin] = useState<Plugin | null>(null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const abort = new AbortController();
    client
      .getPlugin(name, { signal: abort.signal })
      .then(setPlugin)
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [name]);

  const fields = schemaRows(plugin?.configSchema);
  const limits = plugin?.limits;
  const grants = plugin?.permissions;
  return (
    <Section title={`Plugin ${name}`} actions={<a href="#/plugins">All plugins</a>}>
      <ErrorBox error={error} title="The plugin could not be loaded" />
      {plugin && (
        <>
          {plugin.description && <p>{plugin.description}</p>}
          {plugin.lastError && <p className="field-error">{plugin.lastError}</p>}
          <dl className="facts" data-testid="plugin-facts">
            <dt>Health</dt>
            <dd>
              {healthBadge(plugin)} {plugin.restarts > 0 && `${plugin.restarts} restarts`}
            </dd>
            <dt>Version</dt>
            <dd>{plugin.version}</dd>
            <dt>Kinds</dt>
            <dd>{plugin.kinds.map((k) => (PluginKind[k] ?? "").toLowerCase()).join(", ")}</dd>
            <dt>Source</dt>
            <dd>
              {(PluginSource[plugin.source] ?? "").toLowerCase()} <code className="wrap">{plugin.location}</code>
            </dd>
            <dt>Process</dt>
            <dd>
              {plugin.process} {plugin.endpoint && <code className="wrap">{plugin.endpoint}</code>}
            </dd>
            <dt>Sandbox</dt>
            <dd>
              {(SandboxMode[plugin.sandbox] ?? "").toLowerCase()}
              {grants && (
                <>
                  {" · network "}
                  {grants.network ? "allowed" : "none"}
                  {grants.paths.length > 0 &&
                    ` · paths ${grants.paths.map((p) => `${p.path}${p.writable ? " (rw)" : ""}`).join(", ")}`}
                  {grants.env.length > 0 && ` · env ${grants.env.join(", ")}`}
                </>
              )}
            </dd>
            {limits && (
              <>
                <dt>Limits</dt>
                <dd>
                  {[
                    limits.memoryMb && `${limits.memoryMb} MiB`,
                    limits.cpuSeconds && `${limits.cpuSeconds} s CPU`,
                    limits.processes && `${limits.processes} processes`,
                    limits.openFiles && `${limits.openFiles} files`,
                    limits.callTimeoutS && `${limits.callTimeoutS} s a call`,
                    limits.maxConcurrency && `${limits.maxConcurrency} calls at once`,
                  ]
                    .filter(Boolean)
                    .join(" · ") || "the host's defaults"}
                </dd>
              </>
            )}
            <dt>Started</dt>
            <dd>{formatTime(plugin.startTime)}</dd>
          </dl>
          <h3>Config schema</h3>
          {fields.length > 0 && (
            <div className="table-wrap">
              <table data-testid="config-fields">
                <thead>
                  <tr>
                    <th>Field</th>
                    <th>Type</th>
                    <th>Description</th>
                  </tr>
                </thead>
                <tbody>
                  {fields.map((f) => (
                    <tr key={f.name} data-field={f.name}>
                      <td>
                        <code>{f.name}</code>
                        {f.required && <span className="required"> *</span>}
                      </td>
                      <td>{f.type}</td>
                      <td className="small">{f.description}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {plugin.configSchema ? <Json value={plugin.configSchema} /> : <p className="muted">This plugin takes no config.</p>}
        </>
      )}
    </Section>
  );
}
