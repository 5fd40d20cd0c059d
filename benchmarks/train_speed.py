"""Training throughput: images/s through forward, loss, backward and optimiser step.

    python benchmarks/train_speed.py [--size 64] [--batch 16] [--widths 16,32] [--json out.json]

Uses the demo plants at the given size and the model config's defaults except width.
Also reports the reference of a plain matmul on this machine in the same run, so numbers
from different (noisy, shared) machines can be compared as ratios.
"""

from __future__ import annotations

import argparse
import sys
import time

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--widths", default="16,32")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--json")
    args = ap.parse_args()

    imgs = demo_images(per_class=8, seed=0, size=args.size)
    x = np.stack([np.asarray(im) for ims in imgs.values() for im in ims])[: args.batch]
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    results = {"machine": machine(), "torch_threads": torch.get_num_threads(), "size": args.size,
               "batch": args.batch, "matmul_gflops": round(matmul_gflops(), 1), "widths": {}}
    for w in map(int, args.widths.split(",")):
        cfg = ModelConfig(image_size=args.size, width=w, max_width=max(128, w))
        model = VAE(cfg)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        noise = torch.randn(len(x), cfg.latent_dim)

        def step(model=model, opt=opt, noise=noise) -> int:
            logits, post = model(x, noise)
            t = vae_loss(Batch(logits, x, post), "l1-alpha", {"grad": 1.0}, 0.02)
            opt.zero_grad()
            t.total.backward()
            opt.step()
            return len(x)

        t0 = time.perf_counter()
        rate = best_rate(step, seconds=args.seconds)
        results["widths"][w] = {"images_per_s": round(rate, 1),
                                "params": sum(p.numel() for p in model.parameters()),
                                "measured_s": round(time.perf_counter() - t0, 1)}
    write_json(args.json, results)


if __name__ == "__main__":
    main()
