// Drives the built dashboard in Chromium against a running stack, for
// tests/e2e/web/test_dashboard.py. It prints one JSON object per line on stdout:
// {"check": name, ...facts} for each scenario, {"restart": "executor"} when it
// wants the executor restarted (then reads one line on stdin once that is done),
// and {"done": true} at the end. Assertions live in the pytest file.
//
// Environment: IA_WEB_URL (Envoy's URL), IA_WEB_PREFIX (unique pipeline-name
// prefix), IA_WEB_SCREENSHOTS (folder), IA_WEB_USER_DATA (fresh profile folder),
// CHROMIUM (default /usr/bin/chromium).
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const base = process.env.IA_WEB_URL;
const prefix = process.env.IA_WEB_PREFIX;
const shots = process.env.IA_WEB_SCREENSHOTS;
const TIMEOUT = 30_000;
mkdirSync(shots, { recursive: true });

const emit = (object) => process.stdout.write(JSON.stringify(object) + "\n");
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const context = await chromium.launchPersistentContext(process.env.IA_WEB_USER_DATA, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 860 },
});
context.setDefaultTimeout(TIMEOUT);
// Every change of a step node's state, with the states of all nodes at that moment,
// so the test can tell that steps turned green one after another, live.
await context.addInitScript(() => {
  window.__stateLog = [];
  const snapshot = () =>
    Object.fromEntries([...document.querySelectorAll("g[data-step]")].map((g) => [g.dataset.step, g.dataset.state]));
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes" && r.target.matches?.("g[data-step]")) {
        window.__stateLog.push({ step: r.target.dataset.step, state: r.target.dataset.state, all: snapshot() });
      }
      // A node drawn for the first time (the graph appears once the definition loads).
      for (const added of r.addedNodes ?? []) {
        const nodes = added.matches?.("g[data-step]") ? [added] : [...(added.querySelectorAll?.("g[data-step]") ?? [])];
        for (const g of nodes) {
          window.__stateLog.push({ step: g.dataset.step, state: g.dataset.state, all: snapshot() });
        }
      }
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"], childList: true, characterData: true });
});
const page = context.pages()[0] ?? (await context.newPage());
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));

async function shoot(name) {
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.screenshot({ path: `${shots}/${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}-narrow.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 860 });
}

async function go(route) {
  await page.goto(`${base}/#${route}`);
}

async function runIdFromUrl() {
  await page.waitForURL(/#\/runs\/[^/?]+$/);
  return decodeURIComponent(page.url().split("#/runs/")[1]);
}

async function waitRunState(state) {
  await page.locator(`[data-testid=run-state] [data-state=${state}]`).waitFor();
}

async function scenario(name, body) {
  try {
    emit({ check: name, ...(await body()) });
  } catch (error) {
    await page.screenshot({ path: `${shots}/failure-${name}.png`, fullPage: true }).catch(() => undefined);
    emit({ check: name, failed: String(error?.stack ?? error) });
  }
}

// A click returns before React paints what it caused: wait for the error the check is about,
// then read every error shown (a missing one times out; an extra one fails the assertion).
async function renderedErrors(scope, awaited) {
  await scope.locator(".field-error", { hasText: awaited }).first().waitFor();
  return scope.locator(".field-error").allInnerTexts();
}

// 1. Create a pipeline in the JSON editor, with live findings first; see it in the list.
const created = `${prefix}-steps`;
await scenario("create", async () => {
  await go("/editor");
  const editor = page.locator("#definition");
  await editor.fill('{"name": "x", "steps": [{"id": "a", "type": "pass"}], "flow": {"start_at": "nowhere"}}');
  await page.locator("[data-testid=findings] li").first().waitFor();
  const findings = await page.locator("[data-testid=findings] li").allInnerTexts();
  await shoot("editor-findings");
  const definition = {
    name: created,
    version: "1.0",
    description: "Three timed steps for the dashboard test.",
    parameters: { who: "world", pause: 0.6 },
    parameter_specs: [
      { name: "who", description: "Who to greet.", required: true, schema: { type: "string", minLength: 1 } },
      { name: "pause", description: "Seconds each step waits.", schema: { type: "number", minimum: 0 } },
    ],
    steps: [
      { id: "greet", type: "pass", inputs: { message: "Hello, {{ parameters.who }}!" } },
      { id: "pause", type: "wait", wait: { seconds: 0.6 } },
      { id: "second_pause", type: "wait", wait: { seconds: 0.6 } },
      { id: "sign", type: "pass", inputs: { message: "{{ greet.message }}" } },
    ],
    flow: {
      start_at: "greet",
      transitions: [
        { from: "greet", to: "pause" },
        { from: "pause", to: "second_pause" },
        { from: "second_pause", to: "sign" },
      ],
    },
    outputs: { greeting: "{{ sign.message }}" },
  };
  await editor.fill(JSON.stringify(definition, null, 2));
  await page.getByText(/^Valid \(/).waitFor();
  await shoot("editor");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByText(/Saved .* revision 1\./).waitFor();
  await go("/pipelines");
  await page.locator("#pipeline-search").fill(created);
  await page.locator(`tr[data-pipeline="${created}"]`).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("tr[data-pipeline]").length === 1);
  const listed = await page.locator("tr[data-pipeline]").evaluateAll((rows) => rows.map((r) => r.dataset.pipeline));
  await shoot("pipelines");
  // Creating it again is refused with the service's own words.
  await go("/editor");
  await page.locator("#definition").fill(JSON.stringify(definition));
  await page.getByText(/^Valid \(/).waitFor();
  await page.getByRole("button", { name: "Create" }).click();
  const refusal = await page.locator("[data-testid=error]").innerText();
  await shoot("editor-refused");
  await go(`/pipelines/${created}`);
  await page.locator("[data-testid=versions] tbody tr").first().waitFor();
  await shoot("versions");
  return { findings, listed, refusal };
});

// 2. Run it with parameters from the form; every step turns green, live.
let liveRunId = null;
await scenario("run_live", async () => {
  await go(`/start/${created}`);
  await page.locator("#param-who").fill("");
  await page.getByRole("button", { name: "Start run" }).click();
  const refused = await renderedErrors(page, "who is required");
  await page.locator("#param-who").fill("Playwright");
  await page.locator("#param-pause").fill("0.6");
  await shoot("start-run");
  await page.getByRole("button", { name: "Start run" }).click();
  const runId = await runIdFromUrl();
  await page.locator("g[data-step=pause][data-state=RUNNING]").waitFor();
  await shoot("run-monitor-live");
  await waitRunState("SUCCEEDED");
  await page.locator("g[data-step=sign][data-state=SUCCEEDED]").waitFor();
  const stateLog = await page.evaluate(() => window.__stateLog);
  const finalStates = await page
    .locator("g[data-step]")
    .evaluateAll((nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.step, n.dataset.state])));
  const outputs = await page.locator("section:has(h2:text('Outputs')) pre").innerText();
  await shoot("run-monitor");
  await go(`/runs?pipeline=${created}`);
  await page.locator(`tr[data-run="${runId}"]`).waitFor();
  await page.locator("#runs-state").selectOption({ label: "succeeded" });
  await page.locator(`tr[data-run="${runId}"]`).waitFor();
  await page.locator("#runs-state").selectOption({ label: "failed" });
  await page.getByText("No run matches.").waitFor();
  await page.locator("#runs-state").selectOption({ label: "any" });
  await page.locator(`tr[data-run="${runId}"]`).waitFor();
  await shoot("runs");
  liveRunId = runId;
  return { runId, refused, stateLog, finalStates, outputs: JSON.parse(outputs) };
});

// 3. A run that waits for a person: the form refuses a bad value, then resumes the run.
await scenario("human", async () => {
  await go(`/start/${prefix}-approval`);
  await page.getByRole("button", { name: "Start run" }).click();
  const runId = await runIdFromUrl();
  await waitRunState("WAITING_FOR_INPUT");
  await page.getByRole("link", { name: "Open its task" }).click();
  const task = page.locator("article.task").first();
  await task.waitFor();
  await task.getByRole("button", { name: "Submit" }).click();
  const missing = await renderedErrors(task, "Amount approved is required");
  await task.getByLabel("Yes").check();
  await task.getByLabel("Amount approved").fill("abc");
  await task.getByRole("button", { name: "Submit" }).click();
  const invalid = await renderedErrors(task, "must be a number");
  const stillOpen = (await page.locator("[data-testid=submitted]").count()) === 0;
  await shoot("human-task");
  await task.getByLabel("Amount approved").fill("90");
  await task.getByLabel("Channel").selectOption({ label: "Chat" });
  await task.getByLabel("Comment").fill("Fine by me");
  await task.getByRole("button", { name: "Submit" }).click();
  await page.locator("[data-testid=submitted]").waitFor();
  await page.locator("[data-testid=submitted] a").click();
  await waitRunState("SUCCEEDED");
  const approved = await page.locator("g[data-step=approved]").getAttribute("data-state");
  const rejected = await page.locator("g[data-step=rejected]").getAttribute("data-state");
  return { runId, missing, invalid, stillOpen, approved, rejected };
});

// 4. A failing step: its error and how many attempts it took.
await scenario("failure", async () => {
  await go(`/start/${prefix}-failing`);
  await page.getByRole("button", { name: "Start run" }).click();
  const runId = await runIdFromUrl();
  await waitRunState("FAILED");
  const row = page.locator("[data-testid=timeline] tr[data-step=boom]");
  await row.locator("[data-testid=step-error]").waitFor();
  const error = await row.locator("[data-testid=step-error]").innerText();
  const attempts = await row.locator("[data-testid=attempts]").innerText();
  const runError = await page.locator("[data-testid=run-error]").innerText();
  await shoot("run-failed");
  return { runId, error, attempts: Number(attempts), runError };
});

// 5. The executor restarts mid-watch: the monitor reconnects and sees the run finish.
await scenario("restart", async () => {
  await go(`/start/${prefix}-slow`);
  await page.getByRole("button", { name: "Start run" }).click();
  const runId = await runIdFromUrl();
  await page.locator("g[data-step=first][data-state=SUCCEEDED]").waitFor();
  emit({ restart: "executor", runId });
  const answer = await stdinLines.next();
  if (answer.done || answer.value.trim() !== "restarted") {
    throw new Error(`the test did not restart the executor: ${answer.value}`);
  }
  await waitRunState("SUCCEEDED");
  const finalStates = await page
    .locator("g[data-step]")
    .evaluateAll((nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.step, n.dataset.state])));
  // The stream closes once the run has ended.
  await page.locator("[data-testid=connection]", { hasText: "finished" }).waitFor();
  const connection = await page.locator("[data-testid=connection]").innerText();
  // The app still answers after the restart: the runs list loads.
  await go(`/runs?pipeline=${prefix}-slow`);
  await page.locator(`tr[data-run="${runId}"]`).waitFor();
  return { runId, finalStates, connection };
});

// 6. The visual editor: add a step after another by keyboard; the JSON follows and stays valid.
await scenario("graph_editor", async () => {
  await go("/editor");
  await page.getByRole("tab", { name: "Graph" }).click();
  await page.locator("[data-testid=graph-editor] g[data-step=greet]").focus();
  await page.keyboard.press("Enter");
  await page.locator("#new-step-id").fill("shout");
  await page.getByRole("button", { name: "Add after greet" }).click();
  await page.locator("[data-testid=graph-editor] g[data-step=shout]").waitFor();
  await page.locator("#new-step-id").fill("shout");
  await page.getByRole("button", { name: "Add after shout" }).click();
  const refused = await page.locator("[data-testid=graph-editor] [role=alert]").innerText();
  await page.getByText(/^Valid \(/).waitFor();
  await shoot("editor-graph");
  await page.getByRole("tab", { name: "JSON" }).click();
  const definition = JSON.parse(await page.locator("#definition").inputValue());
  return { steps: definition.steps.map((s) => s.id), transitions: definition.flow.transitions, refused };
});

// 7. The plugins page lists what the plugin host knows, or says why it cannot.
await scenario("plugins", async () => {
  await go("/plugins");
  await page.locator("[data-testid=plugins], [data-testid=error], [data-testid=no-plugins]").first().waitFor();
  await shoot("plugins");
  const names = await page.locator("tr[data-plugin]").evaluateAll((rows) => rows.map((r) => r.dataset.plugin));
  const error = (await page.locator("[data-testid=error]").count()) ? await page.locator("[data-testid=error]").innerText() : null;
  // One plugin's details, with its config schema as fields.
  await page.locator("tr[data-plugin=time_window] a").click();
  await page.locator("[data-testid=config-fields] tr[data-field]").first().waitFor();
  const health = await page.locator("[data-testid=plugin-facts] [data-testid=health]").innerText();
  const fields = await page.locator("[data-testid=config-fields] tr[data-field]").evaluateAll((rows) => rows.map((r) => r.dataset.field));
  await shoot("plugin");
  await go("/plugins/no_such_plugin");
  const missing = await page.locator("[data-testid=error]").innerText();
  return { names, error, health, fields, missing };
});

// 8. Dark mode and the keyboard: the theme toggles, and Tab reaches the navigation.
await scenario("theme_keyboard", async () => {
  await go("/tasks");
  await page.locator("[data-testid=theme]").click();
  const theme = await page.evaluate(() => document.documentElement.dataset.theme);
  await shoot("tasks-toggled-theme");
  await go(`/runs?pipeline=${created}`);
  await page.locator("[data-testid=runs]").waitFor();
  await shoot("runs-toggled-theme");
  await page.reload();
  await page.locator("[data-testid=runs]").waitFor();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  await page.keyboard.press("Enter");
  await page.waitForURL(/#\/pipelines$/);
  return { theme, focused };
});

// 9. Metrics: the runs above show in the charts and the step table; a run's trace opens as a waterfall.
await scenario("metrics", async () => {
  await go(`/metrics`);
  await page.locator("#metrics-pipeline").fill(created);
  // Spans reach the telemetry service in batches (about every half second): refresh until they did.
  const deadline = Date.now() + 20_000;
  let finished = 0;
  while (Date.now() < deadline) {
    await page.locator("[data-testid=runs-finished]").waitFor();
    finished = Number(await page.locator("[data-testid=runs-finished]").innerText());
    const steps = await page.locator("[data-testid=latency-by-step] tr[data-step]").count();
    if (finished > 0 && steps >= 4) {
      break;
    }
    await page.waitForTimeout(500);
    await page.locator("[data-testid=refresh]").click();
  }
  const steps = await page.locator("[data-testid=latency-by-step] tr[data-step]").evaluateAll((rows) => rows.map((r) => r.dataset.step));
  const bars = await page.locator("[data-testid=chart-runs] rect").count();
  const latencyLines = await page.locator("[data-testid=chart-latency] polyline, [data-testid=chart-latency] circle").count();
  await shoot("metrics");
  await go(`/metrics?run=${liveRunId}`);
  await page.locator("[data-testid=waterfall] li").first().waitFor();
  await page.locator("[data-testid=waterfall] li[data-span='step sign']").waitFor();
  const spans = await page.locator("[data-testid=waterfall] li").evaluateAll((rows) =>
    rows.map((r) => ({ name: r.dataset.span, depth: Number(r.dataset.depth) })),
  );
  // By keyboard: a span's row is a button.
  await page.locator("[data-testid=waterfall] li[data-span='step pause'] button").focus();
  await page.keyboard.press("Enter");
  const details = await page.locator("[data-testid=span-details]").innerText();
  await shoot("trace");
  await go("/metrics?trace=not-a-trace");
  const malformed = await page.locator("[data-testid=error]").innerText();
  return { finished, steps, bars, latencyLines, spans, details, malformed };
});

// 10. Benchmarks recorded through the telemetry API: history, and two runs compared; a bad id reads as such.
await scenario("benchmarks", async () => {
  await go("/benchmarks?suite=dashboard-e2e");
  await page.locator("[data-testid=benchmarks] tr[data-benchmark]").nth(1).waitFor();
  const rows = await page.locator("[data-testid=benchmarks] tr[data-benchmark]").count();
  const points = await page.locator("[data-testid=chart-history] polyline").count();
  const boxes = page.locator("[data-testid=benchmarks] input[type=checkbox]");
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page.getByRole("button", { name: "Compare the two" }).click();
  await page.locator("[data-testid=comparison] tr[data-metric]").first().waitFor();
  const changes = await page
    .locator("[data-testid=comparison] tr[data-metric]")
    .evaluateAll((trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.metric, tr.querySelector("[data-testid=change]").textContent])));
  await shoot("benchmarks");
  await go("/benchmarks?compare=no-such-a,no-such-b");
  const missing = await page.locator("[data-testid=error]").innerText();
  return { rows, points, changes, missing };
});

// 11. The graph editor sets conditions and step config in forms; the JSON follows.
await scenario("conditions", async () => {
  await go(`/editor/${created}`);
  await page.getByRole("tab", { name: "Graph" }).click();
  await page.getByRole("button", { name: "Condition of greet to pause" }).click();
  const editor = page.locator("[data-testid=condition-editor]");
  await editor.getByLabel("Expression").check();
  await editor.getByRole("button", { name: "Apply condition" }).click();
  const noSource = await editor.locator(".field-error").innerText();
  await editor.getByLabel("Source").fill("parameters.pause");
  await editor.getByLabel("Operator").selectOption({ label: ">" });
  await editor.getByLabel("Value", { exact: true }).fill("0");
  await editor.getByRole("button", { name: "Apply condition" }).click();
  await page.locator("[data-transition='greet->pause'] [data-testid=condition]", { hasText: "if parameters.pause > 0" }).waitFor();
  // Escape closes an open condition editor without changing anything.
  await page.getByRole("button", { name: "Condition of second_pause to sign" }).click();
  await editor.getByLabel("CEL", { exact: true }).focus();
  await page.keyboard.press("Escape");
  const closedByEscape = (await editor.count()) === 0;
  const dashed = await page.locator("[data-testid=graph-editor] line.edge.conditional").count();
  await page.getByRole("button", { name: "Condition of pause to second_pause" }).click();
  await editor.getByLabel("Condition plugin").check();
  await editor.getByLabel("Plugin", { exact: true }).selectOption("time_window");
  await editor.getByRole("button", { name: "Apply condition" }).click();
  const pluginErrors = await renderedErrors(editor, "end is required");
  await editor.getByLabel("start").fill("00:00");
  await editor.getByLabel("end").fill("23:59");
  await shoot("editor-condition");
  await editor.getByRole("button", { name: "Apply condition" }).click();
  await page.locator("[data-transition='pause->second_pause'] [data-testid=condition]", { hasText: "time_window" }).waitFor();
  // A step's config: the pass step's values, as JSON.
  await page.locator("[data-testid=graph-editor] g[data-step=greet]").click();
  await page.locator("#config-greet-json").fill('{"values": {"source": "dashboard"}}');
  await page.locator("[data-testid=step-config]").getByRole("button", { name: "Apply config" }).click();
  await page.getByText(/^Valid \(/).waitFor();
  await page.getByRole("tab", { name: "JSON" }).click();
  const definition = JSON.parse(await page.locator("#definition").inputValue());
  return {
    noSource,
    closedByEscape,
    dashed,
    pluginErrors,
    transitions: definition.flow.transitions,
    greet: definition.steps.find((s) => s.id === "greet"),
  };
});

// 12. The debugger: a breakpoint (refused first for a bad condition) and a mock; paused
// on the right step, a branch not taken and why, an input edited, Step (F10), Continue.
await scenario("debugger", async () => {
  await go(`/start/${prefix}-debug`);
  await page.locator("[data-testid=debug-settings] summary").click();
  const settings = page.locator("[data-testid=debug-settings]");
  await settings.locator("g[data-step=small]").click();
  await page.locator("#break-condition-small").fill("input.n >");
  await page.locator("#mock-fetch").check();
  await page.locator("#mock-output-fetch").fill("[3]");
  await page.getByRole("button", { name: "Start in the debugger" }).click();
  const badMock = await settings.locator("[data-debug-step=fetch] .field-error").innerText();
  await page.locator("#mock-output-fetch").fill('{"n": 3}');
  await page.getByRole("button", { name: "Start in the debugger" }).click();
  const refusal = await page.locator("[data-testid=error]").innerText();
  const badCondition = await settings.locator("[data-debug-step=small] .field-error").innerText();
  await shoot("start-debug-refused");
  await page.locator("#break-condition-small").fill("input.n < 10");
  await page.getByRole("button", { name: "Start in the debugger" }).click();
  const runId = await runIdFromUrl();
  await waitRunState("PAUSED");
  await page.locator("g[data-step=small][data-state=PAUSED]").waitFor();
  const pausedAt = await page.locator("[data-testid=paused-at]").innerText();
  const notTaken = page.locator("[data-testid=conditions] tr[data-edge='fetch->big']");
  const branch = {
    fired: await notTaken.getAttribute("data-fired"),
    reason: await notTaken.locator("[data-testid=condition-reason]").innerText(),
  };
  const input = page.locator("#debug-input");
  const original = JSON.parse(await input.inputValue());
  await input.fill("{");
  await page.locator("[data-testid=input-edit].field-error").waitFor();
  const invalidEdit = await page.locator("[data-testid=input-edit]").innerText();
  const stepBlocked = await page.getByRole("button", { name: /^Step/ }).isDisabled();
  await input.fill(JSON.stringify({ ...original, label: "edited" }, null, 2));
  await page.locator("[data-testid=input-edit]", { hasText: "Edited: label" }).waitFor();
  await shoot("debugger");
  await page.keyboard.press("F10");
  await page.locator("g[data-step=report][data-state=PAUSED]").waitFor();
  const steppedTo = await page.locator("[data-testid=paused-at]").innerText();
  const nextInput = JSON.parse(await input.inputValue());
  await page.getByRole("button", { name: /^Continue/ }).click();
  await waitRunState("SUCCEEDED");
  const outputs = JSON.parse(await page.locator("section:has(h2:text('Outputs')) pre").innerText());
  const events = await page.locator("[data-testid=events]").innerText();
  await shoot("debugger-finished");
  const facts = { badMock, refusal, badCondition, pausedAt, branch, original, invalidEdit, stepBlocked };
  return { runId, ...facts, steppedTo, nextInput, outputs, events };
});

// 13. The new pages in the other theme (the scenarios above ran in the one theme_keyboard chose).
await scenario("other_theme", async () => {
  await page.locator("[data-testid=theme]").click();
  const theme = await page.evaluate(() => document.documentElement.dataset.theme);
  await go(`/metrics?run=${liveRunId}`);
  await page.locator("[data-testid=waterfall] li").first().waitFor();
  await shoot(`trace-${theme}`);
  await go("/benchmarks?suite=dashboard-e2e");
  await page.locator("[data-testid=benchmarks]").waitFor();
  await shoot(`benchmarks-${theme}`);
  return { theme };
});

emit({ done: true, consoleErrors });
await context.close();
process.exit(0);
