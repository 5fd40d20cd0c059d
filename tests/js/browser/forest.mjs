// Loads examples/web_forest twice in headless Chromium; screenshots the finished scene each
// time and reads a few props' decoded pixels and where the baked atlas frames were drawn.
// Writes OUT/forest.json, OUT/forest_1.png, OUT/forest_2.png (and a loading-bar shot).
//
//   node tests/js/browser/forest.mjs OUT FOREST_URL
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { launch, openPage } from "./common.mjs";

const [out, url] = process.argv.slice(2);
const result = { runs: [] };
const browser = await launch();
try {
  for (const run of [1, 2]) {
    const t0 = Date.now();
    // Run 1 pauses between chunks, to photograph the progress bar part way.
    const { page, context, problems } = await openPage(browser, run === 1 ? `${url}?pause=150` : url,
      { viewport: { width: 1000, height: 600 } });
    if (run === 1) {
      await page.waitForFunction(() => window.forest?.progress?.[0] >= 48 || window.forest?.done,
        null, { timeout: 120000 });
      await page.locator("canvas").screenshot({ path: join(out, "forest_loading.png") });
    }
    await page.waitForFunction(() => window.forest?.done || window.forest?.error, null,
      { timeout: 180000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const ms = Date.now() - t0;
    await page.locator("canvas").screenshot({ path: join(out, `forest_${run}.png`) });
    const info = await page.evaluate(() => {
      const f = window.forest;
      if (f.error) return { error: f.error };
      const picks = [];
      for (const c of f.classes) {
        const mine = f.props.filter((p) => p && p.cls === c).slice(0, 2);
        for (const p of mine) picks.push({ ...p, pixels: f.sprite(p.i) });
      }
      return { seed: f.seed, count: f.count, classes: f.classes, imageSize: f.imageSize,
        props: f.props.length, drawn: f.props.filter(Boolean).length, picks, shelf: f.shelf,
        shelfBackground: f.shelfBackground, bakedFrames: f.bakedFrames,
        generateMs: f.generateMs, totalMs: f.totalMs };
    });
    const canvas = await page.locator("canvas").boundingBox();
    result.runs.push({ ...info, loadMs: ms, canvas, problems });
    await context.close();
  }
} finally {
  writeFileSync(join(out, "forest.json"), JSON.stringify(result));
  await browser.close();
}
