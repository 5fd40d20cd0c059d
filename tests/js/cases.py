"""Python's side of the JS parity tests: a small bundle and what the Python runtime makes of it.

    python tests/js/cases.py BUNDLE OUT_DIR
    ASSETVAE_JS_CASES=OUT_DIR node --test tests/js/

BUNDLE is any exported bundle with RGBA uint8 output (the tests use conftest's tiny trained
one; `make demo` writes out/demo/plants.avae.onnx). Writes into OUT_DIR:
- ``parity.avae.onnx`` (+ ``parity.avae.json`` sidecar): BUNDLE's graph (its layers' weights
  widened so that even a briefly trained decoder gives varied sprites), with every sampling
  rule in its manifest: the class Gaussian, sub-cluster components, exemplars with a
  prototype (built around its real classes);
- ``cases.json``: 200 (seed, key, class, spread, truncation[, blend]) cases with Python's
  latents (float32 bit patterns) and decoded pixels (base64), every class covered;
- bundles the JS runtime must refuse, each with the message Python gives for it.
Needs onnx (the trainer extra) to rewrite the manifest; never the trainer itself.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import random
import sys
from pathlib import Path

import numpy as np


def _rules(classes: list[dict], latent: int) -> list[dict]:
    """The real classes, with every sampling rule on one of them: the first keeps the class
    Gaussian, the second gets three sub-cluster components, the third seven exemplars."""
    r = np.random.default_rng(11)
    classes = [dict(c, components=[]) for c in classes]
    for c in classes:
        c.pop("exemplars", None)
    while len(classes) < 3:
        classes.append(dict(classes[0], name=f"{classes[0]['name']}_{len(classes)}"))

    def near(c: dict, scale: float) -> list[float]:
        chol = np.asarray(c["chol"])
        return (np.asarray(c["centroid"]) + scale * chol @ r.standard_normal(latent)).tolist()

    b = classes[1]
    b["components"] = [
        {"weight": w, "centroid": near(b, 1.0), "chol": (np.asarray(b["chol"]) * f).tolist()}
        for w, f in ((0.25, 0.4), (0.5, 0.6), (0.25, 0.5))
    ]
    c = classes[2]
    c["exemplars"] = {"scale": 0.3, "centroids": [near(c, 1.0) for _ in range(7)], "prototype": 4}
    return classes


WIDEN = 2.5  # a briefly trained decoder gives near-constant grey: widen it so pixels vary


def _widen(model, factor: float) -> None:
    """Scale the weights and biases of every Gemm/MatMul/Conv/ConvTranspose (as test_pinned
    scales an untrained decoder's parameters), so sprites differ and parity means something."""
    from onnx import numpy_helper

    layers = {"Gemm", "MatMul", "Conv", "ConvTranspose"}
    params = {
        name for node in model.graph.node if node.op_type in layers for name in node.input[1:]
    }
    for init in model.graph.initializer:
        if init.name in params:
            w = numpy_helper.to_array(init)
            if w.dtype == np.float32:
                init.CopyFrom(
                    numpy_helper.from_array((w * np.float32(factor)).astype(np.float32), init.name)
                )


def build_bundle(source: Path, out_dir: Path) -> Path:
    """source's graph with the rules above in its manifest, plus the sidecar beside it."""
    import onnx

    from assetvae.plugin_api.manifest import METADATA_KEY, Manifest

    model = onnx.load(str(source))
    _widen(model, WIDEN)
    m = json.loads(next(p.value for p in model.metadata_props if p.key == METADATA_KEY))
    m["classes"] = _rules(m["classes"], m["latent_dim"])
    text = Manifest.from_dict(m).to_json()  # the runtime's own validation and writer
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {METADATA_KEY: text})
    out = out_dir / "parity.avae.onnx"
    onnx.save(model, str(out))
    side = dict(json.loads(text), graph_sha256=hashlib.sha256(out.read_bytes()).hexdigest())
    (out_dir / "parity.avae.json").write_text(json.dumps(side), encoding="utf-8")
    return out


def _new_api(gen) -> bool:
    """Issue 12 moves the class first: latents(cls, keys, *, seed, ...)."""
    return next(iter(inspect.signature(gen.latents).parameters)) != "seed"


def python_latents(gen, case: dict) -> np.ndarray:
    """What the Python runtime gives for one case (either API generation)."""
    key = int(case["key"]) if case["key_type"] == "int" else case["key"]
    seed, spread, tau = int(case["seed"]), case["spread"], case["truncation"]
    kw = {"seed": seed, "spread": spread, "truncation": tau}
    b = case.get("blend")
    if _new_api(gen):
        if b:
            return gen.blend_latents(b["a"], b["b"], b["t"], [key], **kw)
        return gen.latents(case["cls"], [key], **kw)
    if b:
        return gen.blend_latents(seed, [key], b["a"], b["b"], b["t"], spread, tau)
    return gen.latents(seed, [key], case["cls"], spread, tau)


def _cases(n: int, rnd: random.Random, classes: list[str]) -> list[dict]:
    seeds = [0, 1, 7, 42, 2**32, 2**53 + 1, 2**63, 2**64 - 1]
    spreads = [0.0, 0.25, 0.6, 0.8, 1.0, 1.5, 2.5, 10.0]
    strings = ["", "5", "forest/oak/17", "forêt/木/3", "🌲/variant/0", "x" * 300]
    out = []
    for i in range(n):
        seed = rnd.choice(seeds) if i % 3 == 0 else rnd.getrandbits(64)
        if i % 2:
            key = rnd.choice(strings) if i % 7 == 1 else f"forest/k/{rnd.getrandbits(20)}"
            key_type = "str"
        else:
            ints = [0, 1, 2**64 - 1, rnd.getrandbits(64), rnd.randrange(1000)]
            key_type, key = "int", str(rnd.choice(ints))
        spread = rnd.choice(spreads) if i % 4 else round(rnd.uniform(0, 3), 6)
        truncation = rnd.choice([None, None, 0.5, 1.0, 1.5, 2.0])
        case = {
            "seed": str(seed),
            "key_type": key_type,
            "key": key,
            "cls": classes[i % len(classes)],
            "spread": spread,
            "truncation": truncation,
            "blend": None,
        }
        if i % 5 == 4:
            a, b = rnd.sample(classes, 2)
            t = rnd.choice([0.0, 0.5, 1.0, round(rnd.random(), 4)])
            case["blend"] = {"a": a, "b": b, "t": t}
            case["cls"] = f"{a}~{b}"
        out.append(case)
    return out


def write_cases(bundle: Path, out: Path, n: int = 200) -> dict:
    """Python's latents and pixels for n cases over every class of the bundle."""
    from assetvae.plugin_api import Generator

    gen = Generator.load(bundle, device="cpu")
    cases = _cases(n, random.Random(13), gen.classes)
    z = np.concatenate([python_latents(gen, c) for c in cases]).astype(np.float32)
    pixels = gen.decode(z)
    for c, row, img in zip(cases, z, pixels):
        c["z_bits"] = [f"{b:08x}" for b in row.view(np.uint32).tolist()]
        c["pixels"] = base64.b64encode(np.ascontiguousarray(img).tobytes()).decode("ascii")
    doc = {
        "bundle": bundle.name,
        "image_size": gen.image_size,
        "latent_dim": gen.latent_dim,
        "classes": gen.classes,
        "cases": cases,
    }
    out.write_text(json.dumps(doc), encoding="utf-8")
    return doc


def write_bad_bundles(bundle: Path, out_dir: Path) -> dict[str, str]:
    """Bundles the runtimes must refuse: name -> the message Python gives (a fragment)."""
    import onnx

    from assetvae.plugin_api import BundleError, Generator
    from assetvae.plugin_api.manifest import METADATA_KEY

    model = onnx.load(str(bundle))
    manifest = json.loads(next(p.value for p in model.metadata_props if p.key == METADATA_KEY))

    def with_manifest(name: str, m: dict | None) -> Path:
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        del copy.metadata_props[:]
        if m is not None:
            onnx.helper.set_model_props(copy, {METADATA_KEY: json.dumps(m)})
        path = out_dir / name
        onnx.save(copy, str(path))
        return path

    latent = manifest["latent_dim"]
    newer = dict(manifest, version="2.0")
    with_manifest("newer.avae.onnx", newer)
    bad = dict(manifest, classes=[dict(manifest["classes"][0], chol=[[1.0] * latent] * latent)])
    with_manifest("badchol.avae.onnx", bad)
    wrong = dict(manifest, latent_dim=latent + 1)
    wrong["classes"] = [
        dict(
            c,
            centroid=[0.0] * (latent + 1),
            chol=np.eye(latent + 1).tolist(),
            components=[],
            exemplars=None,
        )
        for c in manifest["classes"]
    ]
    with_manifest("wronglatent.avae.onnx", wrong)
    # Sidecar-only bundle: no metadata in the graph, the manifest beside it names its hash.
    bare = with_manifest("bare.avae.onnx", None)
    side = dict(manifest, graph_sha256=hashlib.sha256(bare.read_bytes()).hexdigest())
    (out_dir / "bare.avae.json").write_text(json.dumps(side), encoding="utf-8")
    with_manifest("other.avae.onnx", None)
    (out_dir / "other.avae.json").write_text(
        json.dumps(dict(side, graph_sha256="0" * 64)), encoding="utf-8"
    )
    with_manifest("nomanifest.avae.onnx", None)
    (out_dir / "notonnx.avae.onnx").write_bytes(b"this is not an onnx file at all\n" * 4)

    messages = {}
    for path in sorted(out_dir.glob("*.avae.onnx")):
        if path.name == bundle.name:
            continue
        try:
            Generator.load(path, device="cpu")
            messages[path.name] = ""  # loads fine (the sidecar-only bundle)
        except BundleError as e:
            messages[path.name] = str(e)
    (out_dir / "bad_bundles.json").write_text(json.dumps(messages, indent=1), encoding="utf-8")
    return messages


def build_all(source: Path, out_dir: Path, n: int = 200) -> Path:
    """Bundle, cases and bad bundles in out_dir (reused when already there); returns the bundle."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = out_dir / "parity.avae.onnx"
    if not (out_dir / "bad_bundles.json").exists():
        build_bundle(source, out_dir)
        write_cases(bundle, out_dir / "cases.json", n)
        write_bad_bundles(bundle, out_dir)
    return bundle


if __name__ == "__main__":
    print(build_all(Path(sys.argv[1]), Path(sys.argv[2])))
