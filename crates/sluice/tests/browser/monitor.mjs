// The monitor in a real browser: Debian's Chromium driven by playwright-core. Run by the Rust
// test `browser::the_monitor_in_a_real_browser`, which starts the server and reads what this
// prints. Any console error or page error fails the run.
//
// Environment: BASE_URL, USER, PASSWORD, CALLBACK_RUN (a run whose callback was delivered),
// SCREENSHOTS (a directory), NODE_MODULES (where playwright-core is), CHROMIUM (its path).

import { createRequire } from "module";
import { mkdirSync } from "fs";

const require = createRequire(process.env.NODE_MODULES + "/");
const { chromium } = require("playwright-core");

const base = process.env.BASE_URL;
const shots = process.env.SCREENSHOTS;
mkdirSync(shots, { recursive: true });
const problems = [];
const facts = {};

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  // The test runs as root in CI, where Chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(30000);
page.on("console", (msg) => {
  if (msg.type() === "error") problems.push("console: " + msg.text());
});
page.on("pageerror", (err) => problems.push("page error: " + err.message));

async function shot(name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: false });
}

async function signIn(password) {
  await page.goto(base + "/ui/runs");
  check(page.url().includes("/ui/login"), "an anonymous visit goes to the sign-in page");
  await page.fill("input[name=username]", process.env.USER);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
}

try {
  // A wrong password: an error, and no data.
  await signIn("not-the-password");
  await page.waitForSelector("[role=alert]");
  check((await page.textContent("[role=alert]")).includes("not valid"), "the error says why");
  check((await page.locator("table.runs").count()) === 0, "no runs shown");
  check(page.url().includes("/ui/login"), "still on the sign-in page");
  await shot("sign-in-refused");

  // The right one.
  await signIn(process.env.PASSWORD);
  await page.waitForURL(/\/ui\/runs/);
  await page.waitForSelector("nav.counts");
  await shot("runs");

  // A second tab follows the runs page while the first starts a run.
  const watcher = await context.newPage();
  watcher.on("console", (msg) => {
    if (msg.type() === "error") problems.push("console (runs tab): " + msg.text());
  });
  await watcher.goto(base + "/ui/runs");
  const before = await watcher.locator("table.runs tbody tr").count();

  // Start the bundled mapping task and see it complete with its row counts.
  await page.goto(base + "/ui/tasks");
  await page.click("a:text-is('gift_orders')");
  await page.waitForSelector("#start-run");
  await shot("task");
  await page.click("#start-run");
  await page.waitForURL(/\/ui\/runs\/[0-9a-f-]+/);
  await page.waitForSelector("#run-state[data-state=completed]");
  const read = await page.textContent("#rows-read");
  check(Number(read.replace(/,/g, "")) > 0, "rows read shown: " + read);
  facts.mapping_rows_read = read;
  // The runs page showed the new run without a reload.
  await watcher.waitForFunction(
    (n) => document.querySelectorAll("table.runs tbody tr").length === n + 1,
    before,
  );
  await watcher.close();

  // A long-running task: log lines arrive while the page is open.
  await page.goto(base + "/ui/tasks");
  await page.click("a:text-is('ticker')");
  await page.click("#start-run");
  await page.waitForURL(/\/ui\/runs\/[0-9a-f-]+/);
  const tickerUrl = page.url().split("?")[0];
  // Each line says when it was written (ms since the epoch): the page notes when it arrives.
  await page.evaluate(() => {
    window.__arrivals = [];
    const body = document.querySelector("#log-lines tbody");
    new MutationObserver((records) => {
      const now = Date.now();
      for (const r of records)
        for (const n of r.addedNodes) {
          const m = /tick \d+ at (\d+)/.exec(n.textContent || "");
          if (m) window.__arrivals.push(now - Number(m[1]));
        }
    }).observe(body, { childList: true });
  });
  await page.waitForFunction(() => window.__arrivals.length >= 10);
  const rows = await page.locator("#log-lines tbody tr").count();
  check(rows >= 10, "lines arrived live: " + rows);
  facts.live_line_delays_ms = await page.evaluate(() => window.__arrivals.slice(0, 50));
  await shot("run-live-log");

  // Stop it (graceful) and see it stopped.
  await page.click("form[action$='/stop'] button:text-is('Stop')");
  await page.waitForURL(/done=/);
  await page.waitForSelector("#run-state[data-state=stopped]", { timeout: 60000 });
  facts.stopped = tickerUrl;

  // Filter runs by state; the filter is kept in the URL.
  await page.goto(base + "/ui/runs");
  await page.selectOption("form.filters select[name=state]", "stopped");
  await page.click("form.filters button[type=submit]");
  await page.waitForURL(/state=stopped/);
  const states = await page.locator("table.runs tbody .badge").allTextContents();
  check(states.length >= 1 && states.every((s) => s === "stopped"), "only stopped runs: " + states);
  await shot("runs-filtered");
  await page.goto(base + "/ui/runs");
  await page.waitForSelector("table.runs");
  await shot("runs-all");

  // Resend a delivered callback.
  await page.goto(base + "/ui/runs/" + process.env.CALLBACK_RUN);
  await page.waitForSelector(".callback .cb-state[data-state=delivered]");
  await page.click(".callback button:text-is('Resend')");
  await page.waitForURL(/done=/);
  check((await page.textContent(".notice")).includes("queued"), "the resend is confirmed");

  // The other pages render.
  await page.goto(base + "/ui/schedules");
  await page.waitForSelector("h1:text-is('Schedules')");
  await shot("schedules");
  await page.goto(base + "/ui/connections");
  await page.click("section.connection[data-connection=local_pg] button:text-is('Check')");
  await page.waitForSelector("section.connection[data-connection=local_pg] .check .ok");
  await shot("connections");
  await page.goto(base + "/ui/tasks");
  await shot("tasks");

  // Signing out ends the session.
  await page.click("header .who button");
  await page.waitForURL(/\/ui\/login/);
  await page.goto(base + "/ui/runs");
  check(page.url().includes("/ui/login"), "signed out");
} catch (e) {
  problems.push(String(e && e.stack ? e.stack : e));
  await shot("failure").catch(() => {});
}

await browser.close();
console.log(JSON.stringify({ problems, facts }));
process.exit(problems.length ? 1 : 0);
