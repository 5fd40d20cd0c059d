"""Runtime speed: the torch-free runtime against the torch decoder of the same weights.

    python benchmarks/runtime_speed.py [--bundle B --run RUN_DIR] [--threads 2] [--json out.json]
    python benchmarks/runtime_speed.py --bundle B --cold-only      # cold start alone, no torch

Without --bundle, builds a 64-px demo bundle in a temporary folder first (a 1-epoch run: speed
does not depend on how well the weights are trained). In one run, on one bundle, it prints:
- variants/s at batch 1, 16 and 256 through Generator.variants (seed stream + latent math +
  ONNX Runtime + uint8 output), and through torch eager decoding of the same latents, and the
  ratio runtime/torch;
- the machine's limit: decoder FLOPs per image counted from the graph, against the float32
  matmul rate measured now (numpy and torch, the better one), and the share of it reached;
- batch-1 latency (median ms), and cold start in a fresh process (import, load, first
  variant): median ms and peak RSS (MiB) over several processes, against the floor any host
  with ONNX Runtime pays, ``python -c "import numpy, onnxruntime"``, timed alternately in the
  same run; the goal is at most 60 ms over that floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import best_rate, demo_bundle, machine, write_json  # noqa: E402


def graph_flops_per_image(bundle: Path) -> float:
    """2 * multiply-adds of every Gemm/MatMul/Conv/ConvTranspose for one image."""
    import onnx
    from onnx import numpy_helper, shape_inference

    m = shape_inference.infer_shapes(onnx.load(str(bundle)))
    shapes = {}
    for vi in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input):
        shapes[vi.name] = [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: numpy_helper.to_array(t).shape for t in m.graph.initializer}
    flops = 0.0
    for n in m.graph.node:
        if n.op_type in ("Gemm", "MatMul"):
            w = inits[n.input[1]]
            flops += 2 * w[0] * w[1]
        elif n.op_type in ("Conv", "ConvTranspose"):
            w = inits[n.input[1]]  # [Cout, Cin/g, kh, kw]
            out = shapes[n.output[0]]  # [1, Cout, H, W]
            flops += 2 * int(np.prod(w)) * out[2] * out[3]
    return flops


def matmul_gflops(threads: int, n: int = 1024) -> dict:
    import torch

    torch.set_num_threads(threads)
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    ta = torch.from_numpy(a)
    rates = {
        "numpy": best_rate(lambda: (a @ a, 1)[1], seconds=1.5) * 2 * n**3 / 1e9,
        "torch": best_rate(lambda: (ta @ ta, 1)[1], seconds=1.5) * 2 * n**3 / 1e9,
    }
    return {k: round(v, 1) for k, v in rates.items()}


COLD = textwrap.dedent("""
    import time, sys
    t0 = time.perf_counter()
    from assetvae.plugin_api import Generator
    t1 = time.perf_counter()
    g = Generator.load(sys.argv[1], device="cpu", threads=int(sys.argv[2]))
    t2 = time.perf_counter()
    img = g.variants(g.classes[0], [0], seed=1)
    t3 = time.perf_counter()
    assert "torch" not in sys.modules and "PIL" not in sys.modules, "a heavy import crept in"
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak.
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(f"{(t1-t0)*1e3} {(t2-t1)*1e3} {(t3-t2)*1e3} {hwm / 1024}")
""")
FLOOR = "import numpy, onnxruntime"  # what any Python host with ONNX Runtime pays anyway
COLD_GOAL_MS = 60  # over the floor (issue 12)


def cold_start(bundle: Path, threads: int, runs: int = 9) -> dict:
    """A fresh process: import, load, first variant; against the floor, alternating, medians.

    Both read compiled bytecode, as an installed package does: a first, untimed run of each
    writes it to a private cache (PYTHONPYCACHEPREFIX), even where PYTHONDONTWRITEBYTECODE is
    set, so neither pays for compiling sources.
    """
    cache = tempfile.TemporaryDirectory(prefix="assetvae-pyc-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache.name
    cold = [sys.executable, "-c", COLD, str(bundle), str(threads)]
    for args in ([sys.executable, "-c", FLOOR], cold):  # untimed: fills the bytecode cache
        subprocess.run(args, check=True, env=env, capture_output=True)
    walls, floors, imports, loads, firsts, rss = [], [], [], [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR], check=True, env=env)
        floors.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        out = subprocess.run(
            cold, capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        walls.append((time.perf_counter() - t0) * 1e3)
        i, lo, f, r = map(float, out)
        imports.append(i)
        loads.append(lo)
        firsts.append(f)
        rss.append(r)
    med = statistics.median
    over = med(walls) - med(floors)
    result = {
        "process_wall_ms": round(med(walls), 1),
        "floor_wall_ms": round(med(floors), 1),
        "over_floor_ms": round(over, 1),
        "goal_over_floor_ms": COLD_GOAL_MS,
        "in_process_ms": round(med(imports) + med(loads) + med(firsts), 1),
        "import_ms": round(med(imports), 1),
        "load_ms": round(med(loads), 1),
        "first_image_ms": round(med(firsts), 1),
        "peak_rss_mib": round(med(rss), 1),
        "runs": runs,
        "floor": FLOOR,
        "bytecode": "cached",
    }
    cache.cleanup()
    print(
        f"cold start: {result['process_wall_ms']} ms (import, load, first variant) against "
        f"{result['floor_wall_ms']} ms for `{FLOOR}`: {result['over_floor_ms']} ms over the "
        f"floor (goal <= {COLD_GOAL_MS}); median of {runs}",
        file=sys.stderr,
    )
    return result


def decode_rate(
    model_bytes: bytes, latent: int, threads: int, level, seconds: float, batch: int = 256
) -> float:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = level
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).standard_normal((batch, latent)).astype(np.float32)
    return best_rate(lambda: (sess.run(None, {"z": z}), batch)[1], seconds=seconds)


def levers(args, workdir: Path, gen) -> dict:
    """Decode-only variants/s at batch 256 for each lever, against the shipped settings."""
    import onnxruntime as ort

    lv = ort.GraphOptimizationLevel
    data = Path(args.bundle).read_bytes()
    d = gen.latent_dim
    shipped = decode_rate(data, d, args.threads, lv.ORT_ENABLE_ALL, args.seconds)
    out = {f"shipped (ORT_ENABLE_ALL, threads={args.threads})": shipped}
    out["ORT_ENABLE_BASIC"] = decode_rate(data, d, args.threads, lv.ORT_ENABLE_BASIC, args.seconds)
    out["ORT_DISABLE_ALL"] = decode_rate(data, d, args.threads, lv.ORT_DISABLE_ALL, args.seconds)
    out["threads=1"] = decode_rate(data, d, 1, lv.ORT_ENABLE_ALL, args.seconds)
    # Architecture: the same decoder at width 16 (a third of the FLOPs); its quality is measured
    # separately (benchmarks/quality.py --set model.width=16).
    _, narrow = demo_bundle(workdir, size=gen.image_size, width=16)
    out["width 16 decoder"] = decode_rate(
        narrow.read_bytes(), d, args.threads, lv.ORT_ENABLE_ALL, args.seconds
    )
    out["width 16 decoder MFLOPs/image"] = graph_flops_per_image(narrow) / 1e6
    return {k: round(v, 1) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--run", type=Path, help="run directory of the bundle (for the torch baseline)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument(
        "--levers",
        action="store_true",
        help="also time ONNX Runtime options and a narrower decoder, decode only, batch 256",
    )
    ap.add_argument("--cold-only", action="store_true", help="only the cold start (no torch)")
    ap.add_argument("--cold-runs", type=int, default=9, help="processes per cold-start median")
    ap.add_argument("--json")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    if args.bundle is None:
        args.run, args.bundle = demo_bundle(Path(tmp.name), size=64)
    if args.cold_only:
        write_json(
            args.json,
            {
                "machine": machine(),
                "bundle": str(args.bundle),
                "threads": args.threads,
                "cold_start": cold_start(args.bundle, args.threads, args.cold_runs),
            },
        )
        return
    import torch

    from assetvae.plugin_api import Generator
    from assetvae.rundir import load_model

    torch.set_num_threads(args.threads)
    gen = Generator.load(args.bundle, device="cpu", threads=args.threads)
    cls = gen.classes[0]
    vae = None
    if args.run is not None:
        vae, _ = load_model(args.run)

    result = {
        "machine": machine(),
        "bundle": str(args.bundle),
        "threads": args.threads,
        "image_size": gen.image_size,
        "latent_dim": gen.latent_dim,
        "batches": {},
    }
    for batch in (1, 16, 256):
        keys = list(range(batch))
        runtime = best_rate(
            lambda keys=keys: len(gen.variants(cls, keys, seed=7, spread=0.8)), seconds=args.seconds
        )
        row = {"runtime_variants_per_s": round(runtime, 1)}
        if vae is not None:
            z = torch.from_numpy(gen.latents(cls, keys, seed=7, spread=0.8))

            def torch_decode(z=z, batch=batch) -> int:
                with torch.inference_mode():
                    x = vae.decode(z)
                    (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
                return batch

            rate = best_rate(torch_decode, seconds=args.seconds)
            row["torch_variants_per_s"] = round(rate, 1)
            row["ratio_runtime_over_torch"] = round(runtime / rate, 2)
        result["batches"][batch] = row

    lat = []
    for i in range(200):
        t0 = time.perf_counter()
        gen.variants(cls, [i], seed=7)
        lat.append((time.perf_counter() - t0) * 1e3)
    result["batch1_latency_ms"] = round(statistics.median(lat[20:]), 3)

    flops = graph_flops_per_image(args.bundle)
    mm = matmul_gflops(args.threads)
    limit = max(mm.values()) * 1e9 / flops
    best = result["batches"][256]["runtime_variants_per_s"]
    result["limit"] = {
        "decoder_mflops_per_image": round(flops / 1e6, 1),
        "matmul_gflops": mm,
        "limit_variants_per_s": round(limit, 1),
        "share_of_limit_at_256": round(best / limit, 3),
    }
    result["cold_start"] = cold_start(args.bundle, args.threads, args.cold_runs)
    if args.levers:
        result["levers"] = levers(args, Path(tmp.name), gen)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
