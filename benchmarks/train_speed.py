"""Training throughput: images/s through forward, loss, backward and optimiser step, per lever.

    python benchmarks/train_speed.py [--size 64] [--batch 32] [--seconds 4] [--json out.json]

Each lever is timed against the baseline step of the same architecture in the same run, so
the ratios hold on a noisy, shared machine. Levers (issue 14, "training throughput"):
architectures (conv, plain), channels_last memory format, bf16 autocast on the CPU, torch
thread counts, and torch.compile. Uses the demo plants at the given size.

``painted/*`` rows time painted art's step once the critic and the patch loss are on
(the last 70 % of a run) through ``Trainer.step`` (``balanced_backward``: each loss taken back
to the logits once), against the step as it was before (``painted/twice``, rebuilt here: each
loss taken back to the decoder's last layer for the balance, then their weighted sum
backpropagated again), and the step with only the pixel losses (the first 30 %).
``painted/sampled fakes`` is today's default late step (the critic also judges half a batch of
sampled variants), and ``painted/sampled fakes, no SWD`` the same without the patch loss: what
each lever costs per step.

``pixel/*`` rows time pixel art's training (``train()`` on the pixel demo set for ``--seconds``,
at least 20: its 16-px grid, a palette decoder) at 64 and 256 colours, against the same run
with the palette code as it was before (``, before``: the nearest entry from the full
[N, H, W, K, 4] difference, the pick as an einsum), alternated, twice each.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import best_rate, machine, write_json  # noqa: E402

from assetvae.config import ModelConfig  # noqa: E402
from assetvae.datasets.demo import demo_images  # noqa: E402
from assetvae.losses import Batch, vae_loss  # noqa: E402
from assetvae.model import VAE  # noqa: E402


def matmul_gflops(n: int = 1024) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    rate = best_rate(lambda: (a @ b, 1)[1], seconds=1.0)
    return rate * 2 * n**3 / 1e9


def make_step(
    arch: str, size: int, x: torch.Tensor, *, channels_last=False, bf16=False, compile_=False
):
    torch.manual_seed(0)
    model = VAE(ModelConfig(image_size=size, arch=arch))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    noise = torch.randn(len(x), model.cfg.latent_dim)
    forward = torch.compile(model) if compile_ else model

    def step() -> int:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, post = forward(x, noise)
        t = vae_loss(Batch(logits.float(), x, post), "l1-alpha", {"grad": 1.0}, 0.02)
        opt.zero_grad()
        t.total.backward()
        opt.step()
        return len(x)

    return step


def painted_steps(size: int, x: torch.Tensor) -> dict:
    """Steps of painted art's recipe late in a run: the trainer's without and with sampled
    fakes (and those without the patch loss), the one before balanced_backward, and the
    pixel-loss step before the critic joins."""
    from assetvae.adversarial import diff_augment, g_hinge_loss
    from assetvae.config import PAINTED_ADV, PAINTED_FAKES, PAINTED_NOISE, PAINTED_SWD, RunConfig
    from assetvae.model import DiagonalGaussian
    from assetvae.train import Trainer

    def trainer(fakes: float = 0.0, swd: float = PAINTED_SWD) -> Trainer:
        torch.manual_seed(0)
        cfg = RunConfig()
        cfg.model.image_size, cfg.model.texture_noise = size, PAINTED_NOISE
        cfg.train.loss_weights, cfg.train.adv_weight = {"swd": swd}, PAINTED_ADV
        cfg.train.sampled_fakes = fakes
        return Trainer(cfg, torch.device("cpu"))

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(len(x)) * 8 // len(x)  # demo rows come class by class

    def step_of(tr: Trainer, progress: float, with_labels: bool = False):
        def step() -> int:
            tr.step(x, g, 10.0, progress, labels if with_labels else None)
            return len(x)

        return step

    step_once = step_of(trainer(), 0.95)
    step_early = step_of(trainer(), 0.1)
    step_fakes = step_of(trainer(PAINTED_FAKES), 0.95, True)  # today's painted default, late
    step_fakes_no_swd = step_of(trainer(PAINTED_FAKES, swd=0.0), 0.95, True)

    tw = trainer()
    amp = torch.autocast("cpu", tw.amp) if tw.amp else torch.autocast("cpu", enabled=False)

    def step_twice() -> int:  # Trainer.step before balanced_backward, without DDP
        x_in = x.contiguous(memory_format=torch.channels_last) if tw.channels_last else x
        noise = torch.randn(len(x), tw.cfg.model.latent_dim, generator=g)
        aug = tw.adversary.draw(len(x))
        with amp:
            logits, post = tw.forward(x_in, noise)
        logits, post = logits.float(), DiagonalGaussian(post.mean.float(), post.logvar.float())
        b = Batch(logits, x, post, g=g, alpha_margin=tw.alpha_margin)
        total = vae_loss(b, tw.recon, tw.weights, 0.5).total
        adv = g_hinge_loss(tw.adversary.critic(diff_augment(b.pred, aug)))
        last = tw.model.decoder.last_weight
        g_rec = torch.autograd.grad(total, last, retain_graph=True)[0]
        g_adv = torch.autograd.grad(adv, last, retain_graph=True)[0]
        lam = (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, 1e4).detach()
        tw.opt.zero_grad(set_to_none=True)
        (total + tw.adversary.weight * lam * adv).backward()
        tw.opt.step()
        tw.adversary.update(x, b.pred, aug)
        return len(x)

    return {
        "once": step_once,
        "twice": step_twice,
        "pixel losses only": step_early,
        "sampled fakes": step_fakes,
        "sampled fakes, no SWD": step_fakes_no_swd,
    }


def _nearest_index_before(target: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    from assetvae.losses import premultiplied

    t = premultiplied(target).permute(0, 2, 3, 1)
    p = premultiplied(palette.to(t.dtype)[:, :, None, None])[:, :, 0, 0]
    return (t.unsqueeze(-2) - p).pow(2).sum(-1).argmin(dim=-1)


def _pick_before(bounded: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nkhw,kc->nchw", torch.softmax(bounded, dim=1), palette.to(bounded.dtype))


def pixel_runs(seconds: float) -> dict:
    """Pixel art's training as an artist runs it (``train()`` on the pixel demo set: its
    native 16-px grid, a palette of 64 or 256 colours, augmentation, validation), with today's
    palette code and with the code before (swapped in). Each call trains for ``seconds`` and
    returns the median of its epochs' images/s: one batch timed alone overstated the gain."""
    import tempfile

    import assetvae.palette as palette_code
    from assetvae.config import RunConfig
    from assetvae.datasets.demo import write_demo_folder
    from assetvae.rundir import RunDir
    from assetvae.train import train

    root = Path(tempfile.mkdtemp(prefix="train_speed_"))
    write_demo_folder(root / "pixel", per_class=32, seed=0, style="pixel")

    def run_of(colours: int, before: bool):
        def run() -> float:
            cfg = RunConfig(data=str(root / "pixel"))
            cfg.train.palette, cfg.train.time_budget_s, cfg.train.epochs = colours, seconds, 10**6
            saved = {k: getattr(palette_code, k) for k in ("nearest_index", "pick")}
            if before:
                palette_code.nearest_index, palette_code.pick = _nearest_index_before, _pick_before
            try:
                out = train(cfg, root / "run", progress=False, log=lambda s: None)
            finally:
                for k, f in saved.items():
                    setattr(palette_code, k, f)
            rates = [r["images_per_s"] for r in RunDir(out.run_dir).read_metrics()]
            shutil.rmtree(root / "run")
            return statistics.median(rates)

        return run

    return {
        f"palette {k}{b}": run_of(k, b == ", before") for k in (64, 256) for b in ("", ", before")
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument(
        "--compile", action="store_true", help="also time torch.compile (slow to start)"
    )
    ap.add_argument("--json")
    ap.add_argument(
        "--parts",
        default="arch,painted,pixel",
        help="comma-separated: arch (levers per architecture), painted, pixel",
    )
    args = ap.parse_args()
    parts = set(args.parts.split(","))

    imgs = demo_images(per_class=8, seed=0, size=args.size)
    x = np.stack([np.asarray(im) for ims in imgs.values() for im in ims])[: args.batch]
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    threads = torch.get_num_threads()
    results = {
        "machine": machine(),
        "torch_threads": threads,
        "size": args.size,
        "batch": args.batch,
        "matmul_gflops": round(matmul_gflops(), 1),
        "rows": {},
    }
    levers = {
        "base": {},
        "channels_last": {"channels_last": True},
        "bf16": {"bf16": True},
        "channels_last+bf16": {"channels_last": True, "bf16": True},
    }
    if args.compile:
        levers["compile"] = {"compile_": True}
        levers["channels_last+bf16+compile"] = {
            "channels_last": True,
            "bf16": True,
            "compile_": True,
        }
    for arch in ("conv", "plain") if "arch" in parts else ():
        base = None
        for name, kw in levers.items():
            t0 = time.perf_counter()
            step = make_step(arch, args.size, x, **kw)
            step()  # warm-up (and compilation)
            rate = best_rate(step, seconds=args.seconds)
            base = base or rate
            results["rows"][f"{arch}/{name}"] = {
                "images_per_s": round(rate, 1),
                "vs_base": round(rate / base, 2),
                "measured_s": round(time.perf_counter() - t0, 1),
            }
            print(f"{arch:6s} {name:20s} {rate:7.1f} img/s  x{rate / base:.2f}", flush=True)
        for n in sorted({1, threads}):
            torch.set_num_threads(n)
            rate = best_rate(make_step(arch, args.size, x), seconds=args.seconds)
            results["rows"][f"{arch}/threads={n}"] = {
                "images_per_s": round(rate, 1),
                "vs_base": round(rate / base, 2),
            }
            print(f"{arch:6s} threads={n:<12d} {rate:7.1f} img/s  x{rate / base:.2f}", flush=True)
        torch.set_num_threads(threads)

    def step_rate(step) -> float:
        return best_rate(step, seconds=args.seconds)

    if "painted" in parts:
        rows = alternated(painted_steps(args.size, x), "painted", results, step_rate)
        base = rows["painted/twice"]["images_per_s"]
        for name, row in rows.items():
            row["vs_twice"] = round(row["images_per_s"] / base, 2)
            print(f"{name:27s} {row['images_per_s']:7.1f} img/s  x{row['vs_twice']:.2f}")
    if "pixel" in parts:
        runs = pixel_runs(max(args.seconds, 20.0))
        rows = alternated(runs, "pixel", results, lambda run: run())
        for name, row in rows.items():
            before = rows[name.removesuffix(", before") + ", before"]["images_per_s"]
            row["vs_before"] = round(row["images_per_s"] / before, 2)
            print(f"{name:27s} {row['images_per_s']:7.1f} img/s  x{row['vs_before']:.2f}")
    if "arch" in parts:
        conv = results["rows"]["conv/base"]["images_per_s"]
        plain = results["rows"]["plain/base"]["images_per_s"]
        results["plain_over_conv"] = round(plain / conv, 2)
    write_json(args.json, results)


def alternated(steps: dict, prefix: str, results: dict, rate) -> dict:
    """Each entry's best ``rate(entry)`` (images/s) over two alternating rounds (the cost
    drifts with the machine's load), recorded as results["rows"][f"{prefix}/{name}"];
    returns those rows."""
    rows = {f"{prefix}/{name}": {"images_per_s": 0.0} for name in steps}
    for _ in range(2):
        for name, step in steps.items():
            row = rows[f"{prefix}/{name}"]
            row["images_per_s"] = round(max(row["images_per_s"], rate(step)), 1)
    results["rows"].update(rows)
    return rows


if __name__ == "__main__":
    main()
