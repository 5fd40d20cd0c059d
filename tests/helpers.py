"""Small helpers shared by tests."""

from __future__ import annotations

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
