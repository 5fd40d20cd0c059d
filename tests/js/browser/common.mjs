// Shared by the browser scripts: headless Chromium from the system (Debian's `chromium`),
// driven by playwright-core; nothing downloads a browser build.
import { existsSync } from "node:fs";

import { chromium } from "playwright-core";

export const CHROMIUM = process.env.ASSETVAE_CHROMIUM
  || ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(existsSync);

export async function launch() {
  if (!CHROMIUM) throw new Error("no Chromium found: apt-get install chromium (or set ASSETVAE_CHROMIUM)");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Software rendering, fixed: the same pixels on every machine and run.
    args: ["--disable-gpu", "--force-color-profile=srgb", "--font-render-hinting=none",
      "--disable-lcd-text", "--hide-scrollbars"],
  });
}

/** A page whose console errors and failed requests are collected (and printed). */
export async function openPage(browser, url, { viewport = { width: 1280, height: 900 }, init } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  if (init) await page.addInitScript(init);
  await page.goto(url);
  return { page, context, problems };
}
