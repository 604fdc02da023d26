/** The plugins the plugin host knows, with their health. */
import { useEffect, useState } from "react";
import { PluginHealth, PluginKind, PluginSource, SandboxMode, type Plugin } from "@ia-modules/sdk";
import { client, formatTime, take } from "../api";
import { ErrorBox, Section } from "../ui";

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
                <th>Version</th>
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
                      <strong>{p.name}</strong>
                      {p.description && <div className="muted small">{p.description}</div>}
                      {p.lastError && <div className="field-error">{p.lastError}</div>}
                    </td>
                    <td>{p.version}</td>
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
