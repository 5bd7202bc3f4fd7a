// The waterfall page of `dagnats trace --html` in headless Chromium (Debian's package),
// driven by playwright-core. Usage:
//
//   node waterfall.test.mjs PAGE.html EXPECT.json SCREENSHOT.png
//
// PAGE and EXPECT are written by the Rust test `the_binary_writes_the_waterfall_page`
// (bridge/tests/trace_command.rs) from one known trace; scripts/test-waterfall runs both.
// Prints one line per check and, last, `waterfall: N passed, M failed`.

import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [pagePath, expectPath, screenshotPath] = process.argv.slice(2);
if (!pagePath || !expectPath || !screenshotPath) {
  console.error("usage: node waterfall.test.mjs PAGE.html EXPECT.json SCREENSHOT.png");
  process.exit(2);
}
const expected = JSON.parse(readFileSync(expectPath, "utf8"));
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e && e.message ? e.message : e}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function assertEqual(actual, wanted, what) {
  const a = JSON.stringify(actual);
  const w = JSON.stringify(wanted);
  if (a !== w) throw new Error(`${what}: got ${a}, expected ${w}`);
}

const userDataDir = mkdtempSync(join(tmpdir(), "dagnats-waterfall-"));
// A hang guard for the whole run: the checks take about a second.
const guard = setTimeout(() => {
  console.log("not ok - the browser run did not finish within 90s");
  console.log(`waterfall: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, 90_000);

let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
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
    viewport: { width: 1400, height: 560 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] || (await context.newPage());
  const requests = [];
  const errors = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  const url = pathToFileURL(resolve(pagePath)).href;
  await page.goto(url, { waitUntil: "load" });

  await check("the page loads with no script error and fetches nothing", async () => {
    assertEqual(errors, [], "page errors");
    const remote = requests.filter((u) => u !== url && !u.startsWith("data:"));
    assertEqual(remote, [], "requests other than the page itself");
  });

  await check("one bar per span, each visible on the time axis", async () => {
    const bars = page.locator(".bar");
    assertEqual(await bars.count(), expected.spans, "bars");
    const ids = await bars.evaluateAll((els) => els.map((e) => e.dataset.spanId));
    assertEqual(new Set(ids).size, expected.spans, "distinct span ids");
    for (let i = 0; i < expected.spans; i++) {
      const box = await bars.nth(i).boundingBox();
      assert(box && box.width >= 2 && box.height > 0, `bar ${ids[i]} is not visible: ${JSON.stringify(box)}`);
    }
    const ticks = await page.locator(".axis .tick").count();
    assert(ticks >= 2, `only ${ticks} axis ticks`);
  });

  await check("bars are coloured by service, and the legend names every service", async () => {
    const legend = await page.locator(".legend li").allInnerTexts();
    for (const s of expected.services) assert(legend.includes(s), `legend lacks ${s}: ${legend}`);
    const colours = await page.locator(".bar").evaluateAll((els) =>
      els.map((e) => [e.dataset.service, getComputedStyle(e).backgroundColor]),
    );
    const byService = new Map();
    for (const [svc, colour] of colours) {
      if (byService.has(svc)) assertEqual(colour, byService.get(svc), `colour of ${svc}`);
      byService.set(svc, colour);
    }
    assertEqual(new Set(byService.values()).size, byService.size, "distinct colours per service");
  });

  await check("the error span is marked", async () => {
    const errorIds = await page.locator(".bar.error").evaluateAll((els) => els.map((e) => e.dataset.spanId));
    assertEqual(errorIds, expected.error_span_ids, "error bars");
    const marked = await page.locator(".bar.error").first().evaluate((e) => getComputedStyle(e).boxShadow);
    assert(marked && marked !== "none", "the error bar has no outline");
    assertEqual(await page.locator(".row.error .badge").count(), expected.error_span_ids.length, "error badges");
  });

  await check("a span whose parent never arrived is shown with a note", async () => {
    const row = page.locator(`.row:has(.bar[data-span-id="${expected.orphan_span_id}"]) .note`);
    const note = await row.innerText();
    assert(/not received/.test(note), `note: ${note}`);
  });

  await check("clicking a bar shows its attributes, events, ids and status", async () => {
    assert(await page.locator("#details").isHidden(), "details shown before any click");
    const click = expected.click;
    await page.locator(`.bar[data-span-id="${click.span_id}"]`).click();
    const details = page.locator("#details");
    assert(await details.isVisible(), "details not shown");
    const rows = await page.locator("#details-attributes tr").evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.children).map((td) => td.textContent)),
    );
    for (const [k, v] of Object.entries(click.attributes)) {
      assert(rows.some((r) => r[0] === k && r[1] === v), `attribute ${k}=${v} missing: ${JSON.stringify(rows)}`);
    }
    const events = await page.locator("#details-events").innerText();
    assert(events.includes(click.event), `event ${click.event} missing: ${events}`);
    const fields = await page.locator("#details-fields").innerText();
    for (const want of [click.span_id, expected.trace_id, click.error, click.status_message]) {
      assert(fields.includes(want), `${want} missing from the details: ${fields}`);
    }
    assert(await page.locator(`.row.selected .bar[data-span-id="${click.span_id}"]`).count() === 1, "the clicked row is not highlighted");
  });

  await check("hostile span text is shown as text, never run", async () => {
    const pwned = await page.evaluate(() => window.__pwned);
    assertEqual(pwned, undefined, "window.__pwned");
    assertEqual(await page.locator("img").count(), 0, "img elements");
    assertEqual(await page.locator("script").count(), 2, "script elements");
    const rows = await page.locator("#details-attributes").innerText();
    assert(rows.includes("</script><img src=x onerror=window.__pwned=1>"), `payload not shown as text: ${rows}`);
  });

  await check("a screenshot is kept", async () => {
    mkdirSync(dirname(resolve(screenshotPath)), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
  });

  await check("another bar replaces the details; Escape closes them", async () => {
    const other = await page.locator(".bar:not(.error)").first().getAttribute("data-span-id");
    await page.locator(`.bar[data-span-id="${other}"]`).click();
    const fields = await page.locator("#details-fields").innerText();
    assert(fields.includes(other), `details of ${other} not shown`);
    await page.keyboard.press("Escape");
    assert(await page.locator("#details").isHidden(), "details still shown after Escape");
  });
} catch (e) {
  failed++;
  console.log(`not ok - the browser could not run the page: ${e && e.message ? e.message : e}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
  clearTimeout(guard);
}

console.log(`waterfall: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
