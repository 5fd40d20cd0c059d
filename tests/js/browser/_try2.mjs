import { launch, openPage } from "./common.mjs";
const browser = await launch();
const { page, problems } = await openPage(browser, process.argv[2], { viewport: { width: 1000, height: 640 } });
await page.waitForFunction(() => window.forest?.done || window.forest?.error, null, { timeout: 120000 });
console.log(await page.evaluate(() => [forest.error, forest.generateMs, forest.totalMs, forest.bakedFrames]));
await page.locator("canvas").screenshot({ path: "/tmp/forest1.png" });
console.log(problems);
await browser.close();
