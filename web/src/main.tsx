/** The IA Modules dashboard: pipelines, the editor, runs and their live monitor, human tasks, plugins, metrics and benchmarks. */
import { StrictMode, useEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { BenchmarksPage } from "./pages/Benchmarks";
import { EditorPage } from "./pages/Editor";
import { MetricsPage } from "./pages/Metrics";
import { PipelinesPage, VersionsPage } from "./pages/Pipelines";
import { PluginPage, PluginsPage } from "./pages/Plugins";
import { RunMonitorPage } from "./pages/RunMonitor";
import { RunsPage } from "./pages/Runs";
import { StartRunPage } from "./pages/StartRun";
import { TasksPage } from "./pages/Tasks";
import { useRoute } from "./ui";
import "./styles.css";

const NAV = [
  ["/pipelines", "Pipelines"],
  ["/editor", "Editor"],
  ["/runs", "Runs"],
  ["/tasks", "Human tasks"],
  ["/plugins", "Plugins"],
  ["/metrics", "Metrics"],
  ["/benchmarks", "Benchmarks"],
] as const;

function page(route: string) {
  const [path, search = ""] = route.split("?");
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "pipelines":
      return parts[1] ? <VersionsPage key={parts[1]} name={parts[1]} /> : <PipelinesPage />;
    case "editor":
      return <EditorPage key={parts[1] ?? ""} name={parts[1]} />;
    case "start":
      return <StartRunPage key={parts[1]} name={parts[1]} />;
    case "runs":
      return parts[1] ? (
        <RunMonitorPage key={parts[1]} runId={parts[1]} />
      ) : (
        <RunsPage key={search} pipeline={query.get("pipeline") ?? undefined} />
      );
    case "plugins":
      return parts[1] ? <PluginPage key={parts[1]} name={parts[1]} /> : <PluginsPage />;
    case "metrics":
      return <MetricsPage key={search} runId={query.get("run") ?? undefined} traceId={query.get("trace") ?? undefined} />;
    case "benchmarks": {
      const pair = (query.get("compare") ?? "").split(",").filter(Boolean);
      return (
        <BenchmarksPage
          key={search}
          suite={query.get("suite") ?? undefined}
          compareIds={pair.length === 2 ? [pair[0], pair[1]] : undefined}
        />
      );
    }
    case "tasks":
      return <TasksPage key={search} runId={query.get("run") ?? undefined} />;
    default:
      return <p>Nothing here. <a href="#/pipelines">Go to the pipelines</a>.</p>;
  }
}

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(
    () => localStorage.getItem("ia-theme") ?? (window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"),
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("ia-theme", theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === "dark" ? "light" : "dark"))];
}

function App() {
  const route = useRoute();
  const [theme, toggle] = useTheme();
  const path = route.split("?")[0];
  const first = useRef(true);
  useEffect(() => {
    // After a route change (not on load), focus moves to the new page so keyboard
    // and screen-reader users land on it.
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [path]);
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href="#/pipelines">
          IA Modules
        </a>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <a key={href} href={`#${href}`} aria-current={route.startsWith(href) ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <button className="theme" onClick={toggle} aria-pressed={theme === "dark"} data-testid="theme">
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page(route)}
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
