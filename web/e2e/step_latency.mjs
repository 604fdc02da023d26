// Measures, for bench/suites/dashboard.py, when the run monitor shows each step
// finishing. It reads run ids on stdin, one a line; for each it opens the run's
// monitor and, once the run has ended, prints one JSON line
// {"run": id, "shown": {step: ms}, "dom": {step: ms}}: the epoch milliseconds
// (performance.timeOrigin + now, this machine's clock) of the first frame after
// the step's node turned SUCCEEDED, and of the DOM change itself. Steps already
// finished when the page loaded are left out. Environment: IA_WEB_URL,
// IA_WEB_USER_DATA (fresh profile folder), CHROMIUM (default /usr/bin/chromium).
// It prints {"ready": true} first, once the browser is up.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const context = await chromium.launchPersistentContext(process.env.IA_WEB_USER_DATA, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  viewport: { width: 1280, height: 860 },
});
await context.addInitScript(() => {
  window.__shown = {};
  window.__dom = {};
  const now = () => performance.timeOrigin + performance.now();
  new MutationObserver((records) => {
    for (const r of records) {
      const g = r.target;
      if (r.type !== "attributes" || !g.matches?.("g[data-step]") || g.dataset.state !== "SUCCEEDED") {
        continue;
      }
      const step = g.dataset.step;
      if (step in window.__dom) {
        continue;
      }
      window.__dom[step] = now();
      requestAnimationFrame(() => {
        window.__shown[step] = now();
      });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(120_000);
process.stdout.write(JSON.stringify({ ready: true }) + "\n");

for await (const line of createInterface({ input: process.stdin })) {
  const runId = line.trim();
  if (!runId) {
    continue;
  }
  await page.goto(`${process.env.IA_WEB_URL}/#/runs/${encodeURIComponent(runId)}`);
  await page.reload(); // a fresh page per run: the marks start empty
  await page.locator("[data-testid=run-state] [data-state=SUCCEEDED]").waitFor();
  await page.waitForTimeout(100); // the last frame callback
  const marks = await page.evaluate(() => ({ shown: window.__shown, dom: window.__dom }));
  process.stdout.write(JSON.stringify({ run: runId, ...marks }) + "\n");
}
await context.close();
