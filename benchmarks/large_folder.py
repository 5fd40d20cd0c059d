"""Large libraries: loading speed and peak memory of a generated sprite folder, by folder size.

    python benchmarks/large_folder.py [--sizes 10000,30000,100000] [--px 64]
                                      [--data benchmarks/data/large] [--json out.json]

Generates N sprites (20 classes of random RGBA shapes, PNG, --px px; the smaller folders are hard
links to the largest one's first files) once, then measures in a fresh process per row, so that
each peak is that step's own:

- cold: ``load_folder`` with an empty cache: scan, decode in worker processes, write the
  memory-mapped cache (datasets/cache.py); images/s and peak memory.
- warm: ``load_folder`` again: scan, stat every file, open the map; then the trainer's
  per-run data fingerprint (hashes every pixel) and random training batches read through the map.
- in-memory (before the cache, up to --old-max images): every sprite from the per-image .npy
  cache, stacked into one array, as load_folder did before; its peak grows with the folder.

Peak memory is the process's own (anonymous) resident memory, sampled every 10 ms, and
ru_maxrss; pages of the map held in the page cache are the kernel's to drop and are counted
in ru_maxrss only while mapped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import machine, write_json  # noqa: E402

CLASSES = 20


# --- the folder ----------------------------------------------------------------------------
def _sprite(i: int, px: int) -> np.ndarray:
    r = np.random.default_rng(i)
    a = np.zeros((px, px, 4), np.uint8)
    yy, xx = np.mgrid[:px, :px]
    for _ in range(r.integers(2, 5)):
        cy, cx = r.uniform(0.3, 0.7, 2) * px
        ry, rx = r.uniform(0.1, 0.35, 2) * px
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        a[inside] = (*r.integers(0, 256, 3), 255)
    shade = (yy * 40 // px).astype(np.uint8)
    a[..., :3] = np.where(a[..., 3:] > 0, a[..., :3] - np.minimum(a[..., :3], shade[..., None]), 0)
    return a


def _write(job: tuple[str, int, int]) -> None:
    from PIL import Image

    path, i, px = job
    Image.fromarray(_sprite(i, px), "RGBA").save(path, compress_level=6)


def make_folder(root: Path, n: int, px: int) -> Path:
    """root/all: n sprites in CLASSES class folders (written once; kept between runs)."""
    from concurrent.futures import ProcessPoolExecutor

    done = root / f"all-{n}-{px}.done"
    base = root / "all"
    if done.exists():
        return base
    for c in range(CLASSES):
        (base / f"class_{c:02d}").mkdir(parents=True, exist_ok=True)
    jobs = [(str(base / f"class_{i % CLASSES:02d}" / f"s{i:06d}.png"), i, px) for i in range(n)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        for k, _ in enumerate(pool.map(_write, jobs, chunksize=500)):
            if k % 10000 == 0:
                print(f"  generating: {k:,}/{n:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
    done.touch()
    return base


def subset(root: Path, base: Path, n: int) -> Path:
    """A folder of the first n sprites of base (hard links: no new decoding work is shared)."""
    sub = root / f"n{n}"
    if sub.exists():
        return sub
    tmp = root / f".n{n}.tmp"
    for c in range(CLASSES):
        (tmp / f"class_{c:02d}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rel = Path(f"class_{i % CLASSES:02d}") / f"s{i:06d}.png"
        os.link(base / rel, tmp / rel)
    tmp.rename(sub)
    return sub


# --- one measurement, in a process of its own ----------------------------------------------
class PeakMemory:
    """Largest RssAnon (MiB) seen by a sampling thread."""

    def __init__(self):
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._read())
            time.sleep(0.01)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(max(self.peak, self._read()), 1)


def measure(kind: str, folder: str, px: int, cache: str, workers: int) -> dict:
    os.environ["ASSETVAE_CACHE"] = cache
    from assetvae.datasets.cache import Rows, map_folder
    from assetvae.datasets.folder import (
        LoadedDataset,
        LoadOptions,
        cache_dir,
        load_folder,
        load_image_cached,
        scan_folder,
    )

    options = LoadOptions(size=px)
    base_anon = PeakMemory()
    base = base_anon.stop()
    mem = PeakMemory()
    t0 = time.perf_counter()
    out: dict = {}
    if kind in ("cold", "warm"):
        if kind == "cold" or workers:  # a chosen worker count: map_folder directly
            files = scan_folder(folder).all_files()
            out["scan_s"] = round(time.perf_counter() - t0, 2)
            mapped = map_folder(
                Path(folder), files, options, cache_dir(), progress=False, workers=workers or None
            )
            n = len(mapped.ok)
            images = mapped.images
            out["decoded"] = mapped.decoded
        else:
            data = load_folder(folder, options)
            images, n = data.images, len(data.images)
        out["load_s"] = round(time.perf_counter() - t0, 2)
        out["images_per_s"] = round(n / (time.perf_counter() - t0), 1)
        if kind == "warm":
            t1 = time.perf_counter()
            LoadedDataset(images, np.zeros(n, np.int64), ["x"], []).fingerprint()
            out["fingerprint_s"] = round(time.perf_counter() - t1, 2)
            rows = Rows(images, np.arange(0, n, 1))
            g = np.random.default_rng(0)
            t1, read = time.perf_counter(), 0
            while time.perf_counter() - t1 < 3.0:  # random batches of 64, as the trainer reads
                batch = rows[g.integers(0, n, 64)]
                read += len(batch)
            out["batch_images_per_s"] = round(read / (time.perf_counter() - t1), 1)
    else:  # in-memory, as before the cache: one .npy per image, stacked
        folder_ = scan_folder(folder)
        cache_root = Path(cache) / "npy"
        arrays = [load_image_cached(p, options, cache_root) for p in folder_.all_files()]
        images = np.stack(arrays)
        n = len(images)
        out["load_s"] = round(time.perf_counter() - t0, 2)
        out["images_per_s"] = round(n / (time.perf_counter() - t0), 1)
    out["images"] = n
    out["peak_anon_mib"] = round(mem.stop() - base, 1)
    out["ru_maxrss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if children:  # the largest decoding worker
        out["worker_maxrss_mib"] = round(children, 1)
    return out


def run_child(*args: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--px", type=int, default=64)
    ap.add_argument("--data", default="benchmarks/data/large")
    ap.add_argument("--old-max", type=int, default=30000, help="largest in-memory (old) load")
    ap.add_argument("--json")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, folder, px, cache, workers = args.child
        print(json.dumps(measure(kind, folder, int(px), cache, int(workers))))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(args.data) / f"px{args.px}"
    base = make_folder(root, max(sizes), args.px)
    result = {
        "machine": machine(),
        "px": args.px,
        "cores": len(os.sched_getaffinity(0)),
        "note": "2-core machine shared with other timed work; commands run under nice -n 19",
        "rows": [],
    }
    for n in sizes:
        folder = base if n == max(sizes) else subset(root, base, n)
        cache = root / f"cache-{n}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        workers = [1, 2] if n == min(sizes) else [2]
        for w in workers:  # the smallest folder is built twice: 1 and 2 decoding processes
            subprocess.run(["rm", "-rf", str(cache / "folders")], check=True)
            row = {
                "n": n,
                "kind": "cold",
                "workers": w,
                **run_child("cold", str(folder), str(args.px), str(cache), str(w)),
            }
            print(row, flush=True)
            result["rows"].append(row)
        row = {
            "n": n,
            "kind": "warm",
            **run_child("warm", str(folder), str(args.px), str(cache), "0"),
        }
        print(row, flush=True)
        result["rows"].append(row)
        if n <= args.old_max:
            for kind in ("in-memory-cold", "in-memory-warm"):  # the second reads the .npy files
                row = {
                    "n": n,
                    "kind": kind,
                    **run_child("old", str(folder), str(args.px), str(cache), "0"),
                }
                print(row, flush=True)
                result["rows"].append(row)
        subprocess.run(["rm", "-rf", str(cache / "npy")], check=True)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
