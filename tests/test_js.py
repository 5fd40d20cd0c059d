"""The JavaScript runtime (plugin_api/js) under node's own test runner, against this runtime.

tests/js/cases.py writes a bundle with every sampling rule (from conftest's tiny trained one),
200 cases with Python's latents and pixels, and bundles to refuse; `node --test tests/js/`
then checks the seed stream on every shipped vector, the latents bit for bit, the pixels
within 1 level (onnxruntime-node) and the refusals. Needs node and `npm ci`; without them the
test is skipped, unless ASSETVAE_REQUIRE_JS=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_TIMEOUT_S = 300


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


js_cases = _module("js_cases", ROOT / "tests" / "js" / "cases.py")


def require_js(*packages: str) -> str:
    """The node executable, or skip (fail under ASSETVAE_REQUIRE_JS=1) naming what is missing."""
    node = shutil.which("node")
    missing = [] if node else ["node (apt-get install nodejs)"]
    missing += [
        f"node_modules/{p} (npm ci)"
        for p in packages
        if not (ROOT / "node_modules" / p / "package.json").is_file()
    ]
    if missing:
        msg = "JS tests need " + ", ".join(missing)
        if os.environ.get("ASSETVAE_REQUIRE_JS") == "1":
            pytest.fail(msg + " (ASSETVAE_REQUIRE_JS=1)")
        pytest.skip(msg)
    return node


@pytest.fixture(scope="session")
def js_cases_dir(bundle, tmp_path_factory) -> Path:
    """The parity bundle, cases and bad bundles (built once per session; shared with
    test_browser.py)."""
    pytest.importorskip("onnx")
    out = tmp_path_factory.getbasetemp() / "js_parity"
    js_cases.build_all(bundle, out)
    return out


def test_node_suite(js_cases_dir):
    node = require_js("onnxruntime-node")
    env = dict(os.environ, ASSETVAE_JS_CASES=str(js_cases_dir))
    proc = subprocess.run(
        [node, "--test", "--test-reporter=tap", "tests/js/"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    counts = dict(re.findall(r"^# (pass|fail|skipped) (\d+)$", out, re.M))
    assert counts.get("fail") == "0" and counts.get("skipped") == "0", counts
    assert int(counts["pass"]) >= 15, counts
    assert "# latents bit-exact: 200/200" in out
    assert re.search(r"^# node pixels: max diff [01],", out, re.M), out[-3000:]


NODE_DECODE = """
import { loadGenerator } from "./plugin_api/js/node.js";
const gen = await loadGenerator(process.argv[1]);
const out = {};
for (const cls of gen.classes) {
  const s = await gen.variants(cls, [0, 1, "forest/x/2", 3], { seed: 11, spread: 1.2 });
  out[cls] = Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length).toString("base64");
}
console.log(JSON.stringify({ output: gen.manifest.output, sprites: out }));
"""


def test_float32_nchw_bundle_decodes_to_the_same_rgba(trained_run, tmp_path):
    """An `export --float-output` bundle: the JS runtime scales, rounds half to even, clips and
    transposes exactly as the Python runtime does."""
    import base64
    import json

    import numpy as np

    from assetvae.export.bundle import export_bundle
    from assetvae.plugin_api import Generator

    node = require_js("onnxruntime-node")
    out = tmp_path / "float.avae.onnx"
    export_bundle(trained_run, out, output="float32_nchw")
    proc = subprocess.run(
        [node, "--input-type=module", "-e", NODE_DECODE, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["output"] == "float32_nchw"
    with Generator.load(out, device="cpu") as gen:
        for cls in gen.classes:
            want = gen.variants(cls, [0, 1, "forest/x/2", 3], seed=11, spread=1.2)
            js = np.frombuffer(base64.b64decode(got["sprites"][cls]), np.uint8)
            np.testing.assert_array_equal(js.reshape(want.shape), want)
