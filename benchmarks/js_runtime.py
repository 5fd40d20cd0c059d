"""The JavaScript runtime's speed against the Python runtime, on the same bundle, in one run.

    npm ci                                                # onnxruntime-node/-web, playwright-core
    python benchmarks/js_runtime.py [--bundle B] [--json out.json]

Without --bundle, builds the 64-px demo bundle of runtime_speed.py (a 1-epoch run: speed does
not depend on how well the weights are trained). Prints, as JSON:
- variants/s at batch 256 (seed stream + latent math + decoding to RGBA): the Python runtime
  (Generator.variants), node (plugin_api/js with onnxruntime-node), and headless Chromium
  (the studio page's runtime with onnxruntime-web's WebAssembly build, threads as the page
  gets them: cross-origin isolated, up to 4);
- the seed stream and latent math alone (latents/s) in Python and in JS;
- the studio's cold start: navigation to the first grid of 24 variants, in a fresh browser;
- the JS module's size (plugin_api/js/*.js, raw and gzipped).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import best_rate, demo_bundle, machine, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BATCH = 256

NODE = """
import { loadGenerator } from "./plugin_api/js/node.js";
const [path, batch] = [process.argv[1], Number(process.argv[2])];
const gen = await loadGenerator(path);
const keys = Array.from({ length: batch }, (_, i) => i);
const cls = gen.classes[0];
async function rate(fn, seconds = 3) {
  await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) n += await fn();
  return n / ((performance.now() - t0) / 1000);
}
const variants = await rate(async () => (await gen.variants(cls, keys, { seed: 7 })).count);
const latents = await rate(async () => gen.latents(cls, keys, { seed: 7 }).length / gen.latentDim);
console.log(JSON.stringify({ variants_per_s: variants, latents_per_s: latents }));
"""

BROWSER = """
import { chromium } from "playwright-core";
const [url, batch] = [process.argv[1], Number(process.argv[2])];
const executablePath = process.env.ASSETVAE_CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath });
const page = await browser.newPage();
const t0 = Date.now();
await page.goto(url);
await page.waitForFunction(() => document.body.dataset.renders >= 1, null, { timeout: 120000 });
const coldStartMs = Date.now() - t0;
const r = await page.evaluate(async (batch) => {
  const gen = window.studio.gen;
  const keys = Array.from({ length: batch }, (_, i) => i);
  const cls = gen.classes[0];
  const rate = async (fn, seconds = 3) => {
    await fn();
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) n += await fn();
    return n / ((performance.now() - t0) / 1000);
  };
  return {
    variants_per_s: await rate(async () => (await gen.variants(cls, keys, { seed: 7 })).count),
    threads: window.studio.threads, cross_origin_isolated: self.crossOriginIsolated,
  };
}, batch);
console.log(JSON.stringify({ ...r, cold_start_to_first_grid_ms: coldStartMs,
  chromium: browser.version() }));
await browser.close();
"""


def node_json(script: str, *args: str) -> dict:
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", type=Path)
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args(argv)
    from assetvae.plugin_api import Generator
    from assetvae.studio import make_server

    load_before = os.getloadavg()[0]  # other work on the machine skews every rate below
    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle or demo_bundle(Path(tmp))[1]
        gen = Generator.load(bundle, device="cpu")
        cls, keys = gen.classes[0], list(range(BATCH))
        python = {
            "variants_per_s": best_rate(lambda: len(gen.variants(cls, keys, seed=7)), 3.0),
            "latents_per_s": best_rate(lambda: len(gen.latents(cls, keys, seed=7)), 3.0),
        }
        info = {
            "name": bundle.name,
            "image_size": gen.image_size,
            "latent_dim": gen.latent_dim,
            "classes": len(gen.classes),
        }
        gen.close()  # its ONNX Runtime threads must not compete with node's and Chromium's
        node = node_json(NODE, str(bundle), str(BATCH))
        server = make_server(bundle, out_dir=Path(tmp) / "bakes")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            browser = node_json(BROWSER, url, str(BATCH))
        finally:
            server.shutdown()
            server.server_close()
        files = sorted((ROOT / "plugin_api" / "js").glob("*.js"))
        raw = b"".join(f.read_bytes() for f in files)
        result = {
            "bench": "js_runtime",
            "when": time.strftime("%Y-%m-%d"),
            "machine": machine(),
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "bundle": info,
            "batch": BATCH,
            "python": python,
            "node": node,
            "chromium_wasm": browser,
            "js_module": {
                "files": [f.name for f in files],
                "bytes": len(raw),
                "gzip_bytes": len(gzip.compress(raw, 9)),
            },
        }
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
