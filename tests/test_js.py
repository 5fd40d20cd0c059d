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
    missing += [f"node_modules/{p} (npm ci)" for p in packages
                if not (ROOT / "node_modules" / p / "package.json").is_file()]
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
    proc = subprocess.run([node, "--test", "--test-reporter=tap", "tests/js/"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    counts = dict(re.findall(r"^# (pass|fail|skipped) (\d+)$", out, re.M))
    assert counts.get("fail") == "0" and counts.get("skipped") == "0", counts
    assert int(counts["pass"]) >= 15, counts
    assert "# latents bit-exact: 200/200" in out
    assert re.search(r"^# node pixels: max diff [01],", out, re.M), out[-3000:]
