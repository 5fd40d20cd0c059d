"""Write plugin_api/rng_vectors.json from the scalar reference of the seed stream.

    python benchmarks/make_rng_vectors.py            # (re)write the vectors
    python benchmarks/make_rng_vectors.py --check    # fail if the file differs from a rebuild
    python benchmarks/make_rng_vectors.py --bench    # also time normals_batch

The vectors are the contract every port (C, C#, C++, JS...) must reproduce bit for bit
(docs/SEEDS.md). Regenerating them is only legitimate together with a new SPEC_NAME.
u64 seeds and int keys are written as decimal strings (JSON numbers lose bits above 2**53 in
many parsers); float32 normals as their uint32 bit patterns in hex plus a shortest decimal.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

try:
    from assetvae.plugin_api import rng
except ImportError:  # not installed yet: load the module by file path
    import importlib.util

    _path = Path(__file__).resolve().parents[1] / "plugin_api" / "rng.py"
    _spec = importlib.util.spec_from_file_location("assetvae_rng", _path)
    rng = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = rng
    _spec.loader.exec_module(rng)

OUT = Path(__file__).resolve().parents[1] / "plugin_api" / "rng_vectors.json"

U64_MAX = 2**64 - 1
SEEDS = [0, 1, 42, 2024, 2**32, 0xDEADBEEFCAFEBABE, 2**63, U64_MAX]
INT_KEYS = [0, 1, 2, 5, 17, 255, 1000, 2**32 - 1, 2**53 + 1, 2**63, U64_MAX]
STR_KEYS = [
    "",
    "5",
    "a",
    "oak",
    "forest/tree/17",
    "forest/tree/18",
    "forêt/木/3",
    "🌲/variant/0",
    "x" * 300,
]


def _key_fields(key: rng.Key) -> dict:
    if isinstance(key, str):
        return {"key_type": "str", "key": key, "key_utf8_hex": key.encode("utf-8").hex()}
    return {"key_type": "int", "key": str(key)}


def _f32_decimal(bits: int) -> float:
    # float(str(np.float32)) is the shortest decimal that reads back to the same float32.
    return float(str(np.uint32(bits).view(np.float32)))


def build() -> dict:
    keys: list[rng.Key] = [*INT_KEYS, *STR_KEYS]
    doc: dict = {
        "spec": rng.SPEC_NAME,
        "about": "Test vectors of the assetvae seed stream; see docs/SEEDS.md. Seeds and int "
        "keys are decimal strings; str keys also as UTF-8 hex; normals as float32 bit "
        "patterns (hex) with shortest decimals for reading; uniform as float64 bits.",
        "key_hash": [{**_key_fields(k), "hash": f"{rng.key_hash(k):016x}"} for k in keys],
        "state": [],
        "uniform": [],
        "choice": [],
        "normals": [],
    }
    for seed in (0, 42, U64_MAX):
        for key in (0, U64_MAX, "", "forest/tree/17", "forêt/木/3"):
            for stream in (0, 1, 2, U64_MAX):
                doc["state"].append(
                    {
                        "seed": str(seed),
                        **_key_fields(key),
                        "stream": str(stream),
                        "state": f"{rng.variant_state(seed, key, stream):016x}",
                    }
                )
    for seed, key, stream, index in [
        (0, 0, 1, 0),
        (1, "oak", 1, 0),
        (42, "forest/tree/17", 1, 3),
        (42, 7, 0, 0),
        (U64_MAX, U64_MAX, 1, U64_MAX),
        (2024, "forêt/木/3", 5, 1000),
    ]:
        u = rng.uniform(seed, key, stream, index)
        doc["uniform"].append(
            {
                "seed": str(seed),
                **_key_fields(key),
                "stream": str(stream),
                "index": str(index),
                "bits": struct.pack(">d", u).hex(),
                "value": u,
            }
        )
    weight_sets = [[1.0, 1.0, 1.0], [0.7, 0.2, 0.1], [0.0, 3.0, 0.0, 1.0], [5.0], [1e-3, 1e3]]
    for i, key in enumerate([0, 1, 2, 3, "oak", "forest/tree/17", "forêt/木/3", U64_MAX]):
        for j, weights in enumerate(weight_sets):
            seed = SEEDS[(i + j) % len(SEEDS)]
            doc["choice"].append(
                {
                    "seed": str(seed),
                    **_key_fields(key),
                    "weights": weights,
                    "index": str(j),
                    "result": rng.choice(seed, key, weights, index=j),
                }
            )
    cases = []
    for seed in SEEDS:
        for key in (0, 1, U64_MAX, "", "forest/tree/17", "forêt/木/3"):
            cases.append((seed, key, 8, None, 0))
    for seed in (0, 42):
        for key in keys:
            cases.append((seed, key, 16, None, 0))
    for key in (0, 17, "forest/tree/17", "forêt/木/3"):
        for tau in (2.0, 1.0, 0.5):
            cases.append((42, key, 32, tau, 0))
    cases += [
        (7, 3, 64, None, 0),
        (7, 3, 64, 1.5, 0),
        (7, 3, 8, None, 1),
        (7, 3, 8, None, 2),
        (1, "oak", 128, None, 0),
        (U64_MAX, U64_MAX, 1, None, 0),
        (5, 5, 0, None, 0),
        (123456789, "x" * 300, 33, 2.5, 0),
    ]
    for seed, key, dim, tau, stream in cases:
        bits = rng._normals_reference(seed, key, dim, tau, stream).view(np.uint32).tolist()
        doc["normals"].append(
            {
                "seed": str(seed),
                **_key_fields(key),
                "stream": str(stream),
                "dim": dim,
                "truncation": tau,
                "bits": [f"{b:08x}" for b in bits],
                "values": [_f32_decimal(b) for b in bits],
            }
        )
    return doc


def dumps(doc: dict) -> str:
    """One case per line: readable, and a diff shows which case changed. ASCII only."""
    parts = []
    for name, value in doc.items():
        if isinstance(value, list):
            rows = ",\n".join("  " + json.dumps(case, ensure_ascii=True) for case in value)
            parts.append(f" {json.dumps(name)}: [\n{rows}\n ]")
        else:
            parts.append(f" {json.dumps(name)}: {json.dumps(value, ensure_ascii=True)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--bench", action="store_true", help="print normals_batch timings")
    args = ap.parse_args()
    text = dumps(build())
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT}: {'up to date' if same else 'DIFFERS from the reference'}")
        if not same:
            return 1
    else:
        OUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUT}")
    print(f"{rng.SPEC_NAME}: {rng.verify_vectors()} cases reproduced (scalar and batch)")
    if args.bench:
        bench()
    return 0


def bench(reps: int = 20) -> None:
    for n_keys, dim, tau, kind in [
        (256, 32, None, "int"),
        (256, 32, None, "str"),
        (10_000, 32, None, "int"),
        (10_000, 32, None, "str"),
        (10_000, 32, 1.0, "int"),
        (10_000, 128, None, "int"),
    ]:
        keys = list(range(n_keys)) if kind == "int" else [f"forest/tree/{i}" for i in range(n_keys)]
        rng.normals_batch(7, keys, dim, tau)
        t0 = time.perf_counter()
        for _ in range(reps):
            rng.normals_batch(7, keys, dim, tau)
        ms = (time.perf_counter() - t0) / reps * 1e3
        print(
            f"normals_batch {n_keys:>6} {kind} keys x dim {dim:>3}, truncation {tau}: {ms:7.2f} ms"
        )
    t0 = time.perf_counter()
    for i in range(1000):
        rng.normals(7, i, 32)
    us = (time.perf_counter() - t0) / 1000 * 1e6
    print(f"normals (scalar reference)   1 int key  x dim  32: {us:7.1f} us")


if __name__ == "__main__":
    raise SystemExit(main())
