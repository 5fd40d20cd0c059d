"""Training throughput in one process and in K processes under torchrun (DDP).

    python benchmarks/ddp_speed.py [--size 64] [--batch 32] [--epochs 4] [--procs 1,2]
                                   [--device cpu] [--json out.json]

Trains the same run (demo plants, --size px, global batch --batch) with `assetvae train` in
one process with all cores' threads, in one process with one thread, and with torchrun in K
processes of cores/K threads each; reports training images/s (metrics.jsonl, epochs after the
first) and the ratio to one process, all measured in the same run. On CUDA (--device cuda), K
processes use K GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import machine, write_json  # noqa: E402


def rate(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["images_per_s"] for r in rows[1:] or rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--per-class", type=int, default=48)
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="rounds over all rows, interleaved; each row keeps its best round",
    )
    ap.add_argument("--extra", default="", help="more `assetvae train` options, e.g. '--amp bf16'")
    ap.add_argument("--json")
    args = ap.parse_args()

    cores = len(os.sched_getaffinity(0))
    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="ddp_speed_"))
    env = {**os.environ, "ASSETVAE_CACHE": str(work / "cache"), "PYTHONWARNINGS": "ignore"}
    data = work / "plants"
    subprocess.run(
        [
            str(bin_dir / "assetvae"),
            "demo-data",
            str(data),
            "--per-class",
            str(args.per_class),
            "--size",
            str(args.size),
        ],
        check=True,
        env=env,
    )
    train = [
        "train",
        str(data),
        "--size",
        str(args.size),
        "--batch",
        str(args.batch),
        "--epochs",
        str(args.epochs),
        "--preview-every",
        "0",
        "--device",
        args.device,
        "-q",
        *args.extra.split(),
    ]
    result = {
        "machine": machine(),
        "cores": cores,
        "size": args.size,
        "global_batch": args.batch,
        "device": args.device,
        "images": 8 * args.per_class,
        "rows": {},
    }
    if args.device == "cuda":
        import torch

        result["gpu"] = torch.cuda.get_device_name(0)
    runs = [("1 process", 1, cores)]
    if args.device == "cpu" and cores > 1:
        runs.append(("1 process, 1 thread", 1, 1))
    runs += [
        (f"{k} processes", k, max(1, cores // k)) for k in map(int, args.procs.split(",")) if k > 1
    ]
    for round_ in range(args.repeat):  # interleaved, so a busy spell hits every row alike
        for name, k, threads in runs:
            run = work / f"{name.replace(' ', '_').replace(',', '')}_{round_}"
            e = {**env, "OMP_NUM_THREADS": str(threads)}
            if k == 1:
                cmd = [sys.executable, "-m", "assetvae", *train, "--out", str(run)]
            else:
                cmd = [
                    str(bin_dir / "torchrun"),
                    "--standalone",
                    "--nproc_per_node",
                    str(k),
                    "-m",
                    "assetvae",
                    *train,
                    "--out",
                    str(run),
                ]
            r = subprocess.run(cmd, capture_output=True, text=True, env=e)
            if r.returncode != 0:
                raise SystemExit(r.stdout + r.stderr)
            row = result["rows"].setdefault(
                name, {"processes": k, "threads_each": threads, "rounds": []}
            )
            row["rounds"].append(round(rate(run), 1))
            row["images_per_s"] = max(row["rounds"])
            print(name, row, flush=True)
    one = result["rows"]["1 process"]["images_per_s"]
    for row in result["rows"].values():
        row["vs_1_process"] = round(row["images_per_s"] / one, 2)
    shutil.rmtree(work, ignore_errors=True)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
