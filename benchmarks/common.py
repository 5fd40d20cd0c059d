"""Shared set-up for benchmarks: a demo bundle built from scratch, JSON output, timing."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

# The widest vector extension decides CPU training speed: with AMX or AVX512-BF16, training
# runs in bf16 (train.amp_dtype); with AVX2 alone the same 10-minute row trains ~5x fewer epochs.
_VECTOR_ISA = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def cpu_info(cpuinfo: str | None = None) -> dict:
    """The CPU's model name and its widest vector extension ("vector", one of _VECTOR_ISA or
    None), read from /proc/cpuinfo (Linux; both None elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model, flags = None, set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    vector = next((isa for isa in _VECTOR_ISA if isa in flags), None)
    return {"cpu": model, "vector": vector}


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        **cpu_info(),
    }


def demo_run(
    workdir: Path,
    size: int = 64,
    epochs: int = 1,
    per_class: int = 16,
    width: int | None = None,
    **train_kw,
) -> Path:
    """Train a short run on the demo plants (speed benchmarks need real weights, not good ones)."""
    from assetvae.config import ModelConfig, RunConfig, TrainConfig
    from assetvae.datasets.demo import write_demo_folder
    from assetvae.train import train

    data = workdir / "plants"
    if not data.exists():
        write_demo_folder(data, per_class=per_class, seed=0, size=size)
    run = workdir / f"run{size}" if width is None else workdir / f"run{size}w{width}"
    if not (run / "class_model.json").exists():
        model = (
            ModelConfig(image_size=size)
            if width is None
            else ModelConfig(image_size=size, width=width)
        )
        cfg = RunConfig(
            data=str(data),
            model=model,
            train=TrainConfig(epochs=epochs, preview_every=0, **train_kw),
        )
        train(cfg, run, progress=False, log=lambda s: None)
    return run


def demo_bundle(workdir: Path, size: int = 64, width: int | None = None) -> tuple[Path, Path]:
    from assetvae.export.bundle import export_bundle

    run = demo_run(workdir, size, width=width)
    bundle = workdir / (
        f"plants{size}.avae.onnx" if width is None else f"plants{size}w{width}.avae.onnx"
    )
    if not bundle.exists():
        export_bundle(run, bundle)
    return run, bundle


def best_rate(fn: Callable[[], int], seconds: float = 1.5, repeats: int = 5) -> float:
    """Items per second: the median of `repeats` timed windows, each running fn() repeatedly."""
    fn()  # warm-up
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while (dt := time.perf_counter() - t0) < seconds / repeats:
            n += fn()
        rates.append(n / dt)
    return statistics.median(rates)


def write_json(path: str | None, result: dict) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        Path(path).write_text(text + "\n")
