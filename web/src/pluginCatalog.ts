/** The plugin host's plugins, fetched once per page load for the editor's choices and config forms. */
import { PluginKind, type Plugin } from "@ia-modules/sdk";
import { useEffect, useState } from "react";
import { client, take } from "./api";

let catalog: Promise<Plugin[]> | null = null;

function load(): Promise<Plugin[]> {
  catalog ??= take(client.listPlugins({ pageSize: 200 })).catch((error) => {
    catalog = null; // try again next time rather than keep the failure
    throw error;
  });
  return catalog;
}

/** The plugins (empty until they arrive) and the error, if the plugin host did not answer. */
export function usePlugins(): { plugins: Plugin[]; error: unknown } {
  const [plugins, setPlugins] = useState<Plugin[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let live = true;
    load()
      .then((found) => live && setPlugins(found))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, []);
  return { plugins, error };
}

export function ofKind(plugins: Plugin[], kind: PluginKind): Plugin[] {
  return plugins.filter((p) => p.kinds.includes(kind));
}
