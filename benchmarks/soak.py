"""Soak test of the runtime: many Generator.variants calls from many threads, checked exactly.

    python benchmarks/soak.py [BUNDLE] [--calls 10000] [--threads 8] [--json out.json]

Without BUNDLE, builds a small demo bundle in a temporary folder first, with the CLI itself:
`assetvae demo-data`, a short `assetvae train` at 32 px, `assetvae export`.

The workload is --distinct different requests (seed, keys, class, spread), each a few keys
mixing ints and strings. A fresh Generator computes every request's reference sequentially,
in one thread. Then --threads threads share one Generator and make --calls calls, cycling
through the requests in a shuffled order; every result must equal its reference byte for
byte (a variant is a pure function of bundle, seed, key, class and spread, whatever thread
or interleaving). A warm-up pass of the same calls runs first; RSS (VmRSS) is read after it
and after the soak, so the growth is what the soak itself leaked.

Prints (and writes as JSON): errors (mismatches + exceptions; must be 0), RSS growth after
warm-up (must be <= --max-rss-growth-mib, 10 MiB by default), calls/s and variants/s.
Exit status 1 if either limit is broken.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write_json  # noqa: E402

SPREADS = (0.0, 0.5, 0.8, 1.0, 1.5)


def rss_mib() -> float:
    """Current resident set size (VmRSS); falls back to the peak (ru_maxrss) off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def build_demo_bundle(workdir: Path) -> Path:
    """demo-data + a short train at 32 px + export, through the CLI as a user would."""
    env = {**os.environ, "ASSETVAE_CACHE": str(workdir / "cache")}
    cli = [sys.executable, "-m", "assetvae.cli"]
    data, run, bundle = workdir / "plants", workdir / "run", workdir / "plants.avae.onnx"
    steps = [
        ["demo-data", str(data), "--per-class", "12", "--size", "32"],
        [
            "train",
            str(data),
            "--out",
            str(run),
            "--size",
            "32",
            "--latent",
            "16",
            "--width",
            "16",
            "--epochs",
            "2",
            "--preview-every",
            "0",
            "-q",
        ],
        ["export", str(run), "-o", str(bundle)],
    ]
    for step in steps:
        r = subprocess.run(cli + step, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"building the demo bundle failed at `assetvae {step[0]}`:\n{r.stderr}")
    return bundle


def make_requests(classes: list[str], distinct: int, keys_per_call: int, seed: int) -> list[tuple]:
    """(seed, keys, class, spread) requests; keys mix ints (up to 2**64-1) and strings."""
    rnd = random.Random(seed)
    requests = []
    for i in range(distinct):
        cls = classes[i % len(classes)]
        keys = []
        for j in range(rnd.randint(1, keys_per_call)):
            r = rnd.random()
            if r < 0.4:
                keys.append(rnd.randrange(1000))
            elif r < 0.5:
                keys.append(rnd.randrange(2**64))
            elif r < 0.9:
                keys.append(f"forest/{cls}/{rnd.randrange(10_000)}")
            else:
                keys.append(f"村/{j}/ü{rnd.randrange(100)}")
        requests.append((rnd.randrange(2**64), keys, cls, rnd.choice(SPREADS)))
    return requests


def digest(images) -> str:
    return hashlib.sha256(images.tobytes()).hexdigest()


def reference(bundle: Path, requests: list[tuple]) -> list[str]:
    """Each request computed alone, in order, in one thread, by its own Generator."""
    from assetvae.plugin_api import Generator

    with Generator.load(bundle, device="cpu") as gen:
        return [
            digest(gen.variants(cls, keys, seed=s, spread=spread))
            for s, keys, cls, spread in requests
        ]


def hammer(gen, requests: list[tuple], refs: list[str], order: list[int], threads: int) -> dict:
    """`threads` threads share gen and work through `order` (indices into requests)."""
    lock = threading.Lock()
    cursor = iter(order)
    counts = {"calls": 0, "variants": 0, "mismatches": 0, "exceptions": 0}
    first_error: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            s, keys, cls, spread = requests[i]
            try:
                ok = digest(gen.variants(cls, keys, seed=s, spread=spread)) == refs[i]
                err = (
                    None
                    if ok
                    else (f"mismatch on request {i}: seed {s}, keys {keys}, {cls}, spread {spread}")
                )
            except Exception as e:  # counted, never fatal: the soak reports every kind of failure
                ok, err = False, f"{type(e).__name__} on request {i}: {e}"
            with lock:
                counts["calls"] += 1
                counts["variants"] += len(keys)
                if not ok:
                    counts["exceptions" if not err.startswith("mismatch") else "mismatches"] += 1
                    if not first_error:
                        first_error.append(err)

    pool = [threading.Thread(target=worker, name=f"soak-{t}") for t in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    counts["seconds"] = time.perf_counter() - t0
    counts["first_error"] = first_error[0] if first_error else None
    return counts


def soak(
    bundle: Path,
    calls: int = 10_000,
    threads: int = 8,
    distinct: int = 1000,
    keys_per_call: int = 4,
    warmup: int = 1000,
    seed: int = 0,
    ort_threads: int | None = None,
) -> dict:
    from assetvae.plugin_api import Generator

    gen = Generator.load(bundle, device="cpu", threads=ort_threads)
    requests = make_requests(gen.classes, distinct, keys_per_call, seed)
    t0 = time.perf_counter()
    refs = reference(bundle, requests)
    ref_s = time.perf_counter() - t0
    rnd = random.Random(seed + 1)
    order = [i % distinct for i in range(calls)]
    rnd.shuffle(order)
    warm = hammer(gen, requests, refs, [rnd.randrange(distinct) for _ in range(warmup)], threads)
    rss_warm = rss_mib()
    # Two halves: a leak grows RSS in both; allocator warm-up only in the first, if at all.
    first = hammer(gen, requests, refs, order[: calls // 2], threads)
    rss_mid = rss_mib()
    second = hammer(gen, requests, refs, order[calls // 2 :], threads)
    rss_end = rss_mib()
    gen.close()
    run = {
        k: first[k] + second[k]
        for k in ("calls", "variants", "mismatches", "exceptions", "seconds")
    }
    run["first_error"] = first["first_error"] or second["first_error"]
    errors = warm["mismatches"] + warm["exceptions"] + run["mismatches"] + run["exceptions"]
    return {
        "bundle": str(bundle),
        "image_size": gen.image_size,
        "latent_dim": gen.latent_dim,
        "calls": run["calls"],
        "threads": threads,
        "distinct_requests": distinct,
        "warmup_calls": warm["calls"],
        "variants": run["variants"],
        "errors": errors,
        "mismatches": run["mismatches"] + warm["mismatches"],
        "exceptions": run["exceptions"] + warm["exceptions"],
        "first_error": run["first_error"] or warm["first_error"],
        "rss_after_warmup_mib": round(rss_warm, 1),
        "rss_end_mib": round(rss_end, 1),
        "rss_growth_mib": round(rss_end - rss_warm, 2),
        "rss_growth_second_half_mib": round(rss_end - rss_mid, 2),
        "seconds": round(run["seconds"], 2),
        "calls_per_s": round(run["calls"] / run["seconds"], 1),
        "variants_per_s": round(run["variants"] / run["seconds"], 1),
        "sequential_reference_calls_per_s": round(distinct / ref_s, 1),
        "ort_threads": ort_threads,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "bundle", nargs="?", type=Path, help="bundle to soak [default: build a demo bundle]"
    )
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument(
        "--distinct", type=int, default=1000, help="different requests the calls cycle through"
    )
    ap.add_argument("--keys-per-call", type=int, default=4)
    ap.add_argument(
        "--warmup", type=int, default=1000, help="checked calls before the first RSS reading"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--ort-threads",
        type=int,
        default=None,
        help="ONNX Runtime intra-op threads [default: all cores]",
    )
    ap.add_argument("--max-rss-growth-mib", type=float, default=10.0)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="assetvae-soak-") as tmp:
        bundle = args.bundle
        if bundle is None:
            print(
                "no bundle given: building a 32-px demo bundle (demo-data, train, export) ...",
                file=sys.stderr,
            )
            bundle = build_demo_bundle(Path(tmp))
        result = soak(
            bundle,
            args.calls,
            args.threads,
            args.distinct,
            args.keys_per_call,
            args.warmup,
            args.seed,
            args.ort_threads,
        )
    if args.bundle is None:
        result["bundle"] = "demo (32 px, built in a temporary folder)"
    result["max_rss_growth_mib"] = args.max_rss_growth_mib
    result["ok"] = result["errors"] == 0 and result["rss_growth_mib"] <= args.max_rss_growth_mib
    write_json(args.json, result)
    print(
        f"errors: {result['errors']}  RSS growth after warm-up: {result['rss_growth_mib']} MiB  "
        f"{result['calls_per_s']} calls/s ({result['variants_per_s']} variants/s) "
        f"with {args.threads} threads",
        file=sys.stderr,
    )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
