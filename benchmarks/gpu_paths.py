"""Every GPU path, measured when a CUDA device is there (run it on a lent machine).

    python benchmarks/gpu_paths.py [--sizes 64,128] [--batches 64,256,1024] [--seconds 3]
                                   [--json benchmarks/results/gpu_paths.json]

- training images/s of Trainer.step on the GPU (the loss, backward and optimiser step included)
  per image size and batch, for fp32, bf16 autocast, bf16 + channels_last, and (--compile)
  torch.compile on top;
- the runtime: variants/s of a bundle on ONNX Runtime's CUDA provider (fp32 and --fp16
  bundles) against its CPU provider and the torch CUDA decoder of the same weights, at batch
  256; where the onnxruntime there has no CUDA provider (the CPU wheel), those rows say so;
- the fp16 bundle's parity with fp32 on the export's parity set, run on the CUDA provider.

benchmarks/gpu_session.sh runs this, the CUDA test and issue 14's quality rows on a lent GPU.

Without a CUDA device it writes {"measured": false, ...} and says so: nothing is made up.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_rate, demo_run, machine, write_json  # noqa: E402


def train_rates(size: int, batch: int, seconds: float, compile_: bool) -> dict:
    from assetvae.config import ModelConfig, RunConfig, TrainConfig
    from assetvae.train import Trainer

    device = torch.device("cuda")
    x = torch.rand(batch, 4, size, size, device=device)
    levers = {
        "fp32": dict(amp="off", channels_last=False),
        "bf16": dict(amp="bf16", channels_last=False),
        "bf16+channels_last": dict(amp="bf16", channels_last=True),
    }
    if compile_:
        levers["bf16+channels_last+compile"] = dict(amp="bf16", channels_last=True, compile=True)
    rows = {}
    for name, kw in levers.items():
        cfg = RunConfig(model=ModelConfig(image_size=size), train=TrainConfig(**kw))
        trainer = Trainer(cfg, device)
        g = torch.Generator().manual_seed(0)

        def step(trainer=trainer, g=g) -> int:
            trainer.step(x, g, 1.0, 0.5)
            return batch

        for _ in range(3):  # warm-up (and compilation)
            step()
        torch.cuda.synchronize()
        rate = best_rate(lambda: (step(), torch.cuda.synchronize())[0], seconds=seconds)
        rows[name] = round(rate, 1)
        print(f"train {size}px batch {batch} {name}: {rate:.0f} img/s", flush=True)
    return rows


def runtime_rates(work: Path, size: int, seconds: float) -> dict:
    from assetvae.export.bundle import export_bundle
    from assetvae.model import to_uint8
    from assetvae.plugin_api import DeviceError, Generator
    from assetvae.rundir import load_model

    run = demo_run(work, size)  # one epoch: speed needs real shapes, not good weights
    out = {}
    for fp16 in (False, True):
        bundle = work / f"b{size}{'_fp16' if fp16 else ''}.avae.onnx"
        report = export_bundle(run, bundle, fp16=fp16)
        name = "onnxruntime_cuda_fp16" if fp16 else "onnxruntime_cuda_fp32"
        try:
            gen = Generator.load(bundle, device="cuda")
        except DeviceError as e:  # e.g. the CPU onnxruntime wheel: say so, measure the rest
            out[name] = {"measured": False, "why": str(e)}
            print(f"runtime {size}px {name}: not measured: {e}", flush=True)
            continue
        with gen:
            keys = range(256)
            rate = best_rate(
                lambda gen=gen, keys=keys: len(gen.variants(gen.classes[0], keys, seed=1)),
                seconds=seconds,
            )
            out[name] = {"variants_per_s": round(rate, 1), "provider": gen.provider}
            if fp16:
                out[name]["parity_max_abs_vs_fp32"] = report.manifest.export[
                    "fp16_parity_max_abs_error"
                ]
                out[name]["parity_provider"] = report.manifest.export["fp16_parity_provider"]
    with Generator.load(work / f"b{size}.avae.onnx", device="cpu") as gen:  # the baseline
        out["onnxruntime_cpu_fp32"] = {
            "variants_per_s": round(
                best_rate(lambda: len(gen.variants(gen.classes[0], range(256), seed=1)), seconds),
                1,
            )
        }
    model, _ = load_model(run, "cuda")
    z = torch.randn(256, model.cfg.latent_dim, device="cuda")

    @torch.no_grad()
    def torch_decode() -> int:
        return len(to_uint8(model.decode_display(z)))

    out["torch_cuda_fp32"] = {"variants_per_s": round(best_rate(torch_decode, seconds=seconds), 1)}
    print(f"runtime {size}px: {out}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--batches", default="64,256,1024")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    result = {"machine": machine(), "torch": torch.__version__}
    if not torch.cuda.is_available():
        result |= {"measured": False, "note": "not measured: no CUDA device on this machine"}
        print(result["note"])
        write_json(args.json, result)
        return
    import onnxruntime

    result |= {
        "measured": True,
        "gpu": torch.cuda.get_device_name(0),
        "bf16": torch.cuda.is_bf16_supported(),
        "onnxruntime": onnxruntime.__version__,
        "train": {},
        "runtime": {},
    }
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gpu_paths_"))
    for size in map(int, args.sizes.split(",")):
        for batch in map(int, args.batches.split(",")):
            result["train"][f"{size}px/batch{batch}"] = train_rates(
                size, batch, args.seconds, args.compile
            )
        result["runtime"][f"{size}px"] = runtime_rates(work, size, args.seconds)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
