// Drives the studio page in headless Chromium: moves its controls, screenshots the grid, reads
// the decoded pixels, clicks a variant, bakes, and opens the pages that must show errors.
// Writes OUT/studio.json and PNG screenshots; tests/test_browser.py checks them against
// the Python runtime.
//
//   node tests/js/browser/studio.mjs OUT STUDIO_URL [NAME=ERROR_PAGE_URL ...]
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { launch, openPage } from "./common.mjs";

const [out, url, ...errorPages] = process.argv.slice(2);
const result = { grids: {}, errors: {} };
const TIMEOUT = 60000;

async function settle(page, want) {
  // Wait until the grid shows exactly these settings (the page renders on every input).
  await page.waitForFunction((w) => {
    const s = window.studio?.shown;
    return s && Object.entries(w).every(([k, v]) => JSON.stringify(s[k]) === JSON.stringify(v));
  }, want, { timeout: TIMEOUT });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function grab(page, name) {
  const grid = page.locator("#grid");
  await grid.screenshot({ path: join(out, `${name}.png`) });
  result.grids[name] = await page.evaluate(() => {
    const g = document.getElementById("grid").getBoundingClientRect();
    const cells = [...document.querySelectorAll("#grid .cell canvas")].map((c) => {
      const r = c.getBoundingClientRect();
      return { x: r.x - g.x, y: r.y - g.y, w: r.width, h: r.height };
    });
    const s = window.studio.sprites;
    const b64 = (u8) => {
      let t = "";
      for (let i = 0; i < u8.length; i += 0x8000) t += String.fromCharCode(...u8.subarray(i, i + 0x8000));
      return btoa(t);
    };
    return { shown: window.studio.shown, cells, size: s.width, pixels: b64(s.data),
      background: getComputedStyle(document.querySelector("#grid .cell canvas")).backgroundColor };
  });
}

const browser = await launch();
try {
  const t0 = Date.now();
  const { page, problems } = await openPage(browser, url);
  await page.waitForFunction(() => document.body.dataset.renders >= 1
    || document.body.dataset.state === "error", null, { timeout: TIMEOUT });
  result.coldStartMs = Date.now() - t0; // page load to the first grid
  result.firstStatus = await page.textContent("#status");
  const classes = await page.$$eval("#cls option", (os) => os.map((o) => o.value));
  result.classes = classes;

  // 1. Another class, spread, a seed beyond 2^53, truncation, another key range and count.
  await page.selectOption("#cls", classes[1]);
  await page.locator("#spread").fill("1.3");
  await page.fill("#seed", "18446744073709551615");
  await page.check("#trunc-on");
  await page.locator("#truncation").fill("1.5");
  await page.fill("#first-key", "5");
  await page.selectOption("#count", "12");
  await settle(page, { cls: classes[1], spread: 1.3, seed: "18446744073709551615",
    truncation: 1.5, first: 5, count: 12 });
  await grab(page, "grid_class");

  // 2. A blend with the third class at t = 0.3, truncation off, "seed + 1" (wraps to 0).
  await page.selectOption("#partner", classes[2 % classes.length]);
  await page.locator("#t").fill("0.3");
  await page.uncheck("#trunc-on");
  await page.click("#reroll");
  await settle(page, { partner: classes[2 % classes.length], t: 0.3, truncation: null, seed: "0" });
  await grab(page, "grid_blend");

  // 3. Click a variant: its (seed, key) and the snippets.
  await page.click("#grid .cell:nth-child(4)");
  await page.waitForSelector("#detail:not([hidden])");
  result.detail = {
    title: await page.textContent("#detail-title"),
    facts: await page.textContent("#detail-facts"),
    python: await page.textContent("#snippet-py"),
    js: await page.textContent("#snippet-js"),
    index: 3,
  };
  // The JS snippet, run as it is in this page (imports pointed at what the studio serves).
  const origin = new URL(url).origin;
  const code = result.detail.js
    .replace('"onnxruntime-web"', `"${origin}/ort/ort.wasm.min.mjs"`)
    .replace('"./plugin_api/js/index.js"', `"${origin}/js/index.js"`)
    .replace(/Generator\.load\("([^"]+)"/, `Generator.load("${origin}/bundle/$1"`)
    .replace(/ctx\.putImageData\(.*\n/, "window.snippetSprite = sprite;\n");
  result.detail.jsRuns = await page.evaluate(async (source) => {
    const blob = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    await import(blob);
    const got = window.snippetSprite.data;
    const want = window.studio.sprites.image(3).data;
    return got.length === want.length && got.every((v, i) => v === want[i]);
  }, code);

  // 4. Back to the first class alone (first key 0, 12 variants), and bake that selection.
  await page.selectOption("#partner", "");
  await page.selectOption("#cls", classes[0]);
  await page.fill("#first-key", "0");
  await page.locator("#spread").fill("0.8");
  await settle(page, { cls: classes[0], partner: null, first: 0, spread: 0.8 });
  await grab(page, "grid_bake");
  await page.click("#bake");
  await page.waitForFunction(() => window.studio.lastBake || /refused/.test(
    document.getElementById("status").textContent), null, { timeout: TIMEOUT });
  result.bake = await page.evaluate(() => window.studio.lastBake ?? null);
  result.bakeStatus = await page.textContent("#status");
  await page.click("#grid .cell:nth-child(2)");
  await page.screenshot({ path: join(out, "studio_page.png"), fullPage: true });
  result.problems = problems;

  // 5. A browser without WebAssembly.
  const noWasm = await openPage(browser, url, { init: () => { delete globalThis.WebAssembly; } });
  await noWasm.page.waitForFunction(() => document.body.dataset.state === "error", null,
    { timeout: TIMEOUT });
  result.errors.no_wasm = await noWasm.page.textContent("#message");
  await noWasm.page.screenshot({ path: join(out, "studio_no_wasm.png") });

  // 6. Bundles the page must refuse, each with its own message.
  for (const spec of errorPages) {
    const [name, pageUrl] = spec.split("=");
    const bad = await openPage(browser, pageUrl);
    await bad.page.waitForFunction(() => document.body.dataset.state === "error", null,
      { timeout: TIMEOUT });
    result.errors[name] = await bad.page.textContent("#message");
    await bad.page.screenshot({ path: join(out, `studio_${name}.png`) });
  }
} finally {
  writeFileSync(join(out, "studio.json"), JSON.stringify(result));
  await browser.close();
}
