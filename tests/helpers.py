"""Small helpers shared by tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def write_rgba(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array).astype(np.uint8), "RGBA").save(path)
    return path


def read_manifest_dict(bundle: Path) -> dict:
    import json

    import onnx

    from assetvae.plugin_api.manifest import METADATA_KEY

    m = onnx.load(str(bundle))
    return json.loads(next(p.value for p in m.metadata_props if p.key == METADATA_KEY))


def write_with_manifest(bundle: Path, manifest: dict, out: Path) -> Path:
    """A copy of bundle's graph carrying another manifest (for tests of what the runtime reads)."""
    import json

    import onnx

    from assetvae.plugin_api.manifest import METADATA_KEY

    m = onnx.load(str(bundle))
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(manifest)})
    onnx.save(m, str(out))
    return out


def load_benchmark(stem: str, name: str | None = None):
    """benchmarks/STEM.py (a script, not a package), loaded by path as module NAME (default
    STEM), with benchmarks/ on sys.path: the probes import quality.py by name."""
    name = name or stem
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location(name, bench / f"{stem}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def decide(resolve, model, train) -> tuple:
    """A train.resolve_* step run on a config of model and train: (the config, its lines)."""
    from assetvae.config import RunConfig

    lines: list[str] = []
    cfg = RunConfig(data="unused", model=model, train=train)
    resolve(cfg, lines.append)
    return cfg, lines
