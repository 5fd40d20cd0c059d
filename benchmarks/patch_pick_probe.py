"""Probe for issue 14: a decoder that *picks* real patches instead of regressing pixels.

    python benchmarks/patch_pick_probe.py --set plants --minutes 3 --mode mosaic [--atoms 512]
        [--out DIR] [--json PATH] [--tuxpaint DIR]

The palette output took pixel art from soft to crisp by making the decoder choose among the
art's own colours (assetvae/palette.py). This probe asks whether the same move works for
painted art one level up: the decoder's last layer gives, per 4x4 cell of a 64-px image, logits
over K *atoms*, real RGBA patches of the training images (k-means on premultiplied patches, each
centre snapped to its nearest real patch so atoms keep the art's texture); training is
cross-entropy against the atom nearest each target cell (plus the KL term, weight 0.5, as the
default recipe); images pick the argmax atom per cell. Two layouts:

- ``mosaic``: 4x4 atoms tiled edge to edge (a DepthToSpace in a bundle's graph);
- ``ola``: 8x8 atoms at stride 4, overlap-added under a tent window that sums to one (a single
  ConvTranspose in a bundle's graph), so neighbouring picks blend instead of meeting at a seam.

The network is the plain recipe's (issue 14) ending at 16x16 with one more 3x3 layer; samples
come from each class's Gaussian (centroid, covariance of the posterior means plus the mean
posterior variance), scaled by the spread. It is a standalone probe, not a product path: the
scores use benchmarks/quality.py's own reference and metrics on the same held-out split, so its
rows compare with quality.py's rows at the same budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quality as Q  # noqa: E402

from assetvae.losses import premultiplied  # noqa: E402
from assetvae.model import DiagonalGaussian, to_tensor, to_uint8  # noqa: E402
from assetvae.palette import bounded_logits  # noqa: E402

LATENT, BETA, BATCH, LR = 32, 0.5, 32, 2e-3
LOGVAR_CLAMP = (-10.0, 4.0)  # the probe's own (the product's encoder clamps at -12, 8)
TENT = torch.tensor([1.0, 3, 5, 7, 7, 5, 3, 1]) / 8  # w[t] + w[t + 4] = 1


class Atoms:
    """K real patches and how a cell grid is cut from, and made back into, an image."""

    def __init__(self, mode: str, k: int, size: int):
        self.mode = mode
        self.patch = 8 if mode == "ola" else 4
        self.grid = size // 4
        self.dim = 4 * self.patch**2
        w = (TENT[:, None] * TENT[None, :]).reshape(-1) if mode == "ola" else torch.ones(16)
        self.window = w.repeat(4)  # per descriptor entry, channel-major as unfold orders them
        self.sqrt_w = self.window.sqrt()
        self.atoms = torch.zeros(k, self.dim)

    @property
    def k(self) -> int:
        return len(self.atoms)

    def cells(self, x: torch.Tensor) -> torch.Tensor:
        """RGBA [N, 4, S, S] -> premultiplied cell descriptors [N, G, G, D]."""
        p = premultiplied(x)
        if self.mode == "ola":
            p = F.pad(p, (2, 2, 2, 2))
        u = F.unfold(p, self.patch, stride=4)  # [N, D, G*G]
        return u.view(len(x), self.dim, self.grid, self.grid).permute(0, 2, 3, 1)

    def fit(self, images: torch.Tensor, seed: int, max_points: int = 120_000, iters: int = 20):
        g = torch.Generator().manual_seed(seed)
        pts = torch.cat(
            [
                self.cells(torch.roll(images, (dy, dx), (2, 3))).reshape(-1, self.dim)
                for dy in (0, 2)
                for dx in (0, 2)
            ]
        )
        pts = pts[torch.randperm(len(pts), generator=g)[:max_points]] * self.sqrt_w
        c = pts[torch.randperm(len(pts), generator=g)[: self.k]].clone()
        c[0] = 0  # atom 0: fully transparent
        for _ in range(iters):
            owner = torch.cdist(pts, c).argmin(1)
            s = torch.zeros_like(c).index_add_(0, owner, pts)
            n = torch.bincount(owner, minlength=self.k).float()
            c = torch.where(n[:, None] > 0, s / n.clamp(min=1)[:, None], c)
            c[0] = 0
        c = pts[torch.cdist(c, pts).argmin(1)]  # snap to real patches: keep their texture
        c[0] = 0
        self.atoms = c / self.sqrt_w

    def targets(self, x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(self.cells(x).reshape(-1, self.dim) * self.sqrt_w, self.atoms * self.sqrt_w)
        return d.argmin(1)

    def image(self, pick: torch.Tensor) -> torch.Tensor:
        """Pick weights [N, K, G, G] -> straight RGBA [N, 4, S, S] in [0, 1]."""
        if self.mode == "ola":
            w = (self.atoms * self.window).view(self.k, 4, 8, 8)
            im = F.conv_transpose2d(pick, w, stride=4, padding=2)
        else:
            # Descriptors are channel-major (c, row, column), the order pixel_shuffle reads.
            im = F.pixel_shuffle(torch.einsum("nkhw,kd->ndhw", pick, self.atoms), 4)
        a = im[:, 3:].clamp(0, 1)
        return torch.cat([(im[:, :3] / a.clamp(min=1e-3)).clamp(0, 1) * (a > 0), a], 1)


def gn_silu(c: int) -> list[nn.Module]:
    return [nn.GroupNorm(8, c), nn.SiLU()]


def networks(k: int, w: int = 32) -> tuple[nn.Module, nn.Module]:
    enc = nn.Sequential(
        nn.Conv2d(4, w, 4, 2, 1),
        *gn_silu(w),
        nn.Conv2d(w, 2 * w, 4, 2, 1),
        *gn_silu(2 * w),
        nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
        *gn_silu(4 * w),
        nn.Conv2d(4 * w, 8 * w, 4, 2, 1),
        *gn_silu(8 * w),
        nn.Flatten(),
        nn.Linear(8 * w * 16, 2 * LATENT),
    )
    dec = nn.Sequential(
        nn.Linear(LATENT, 8 * w * 16),
        nn.Unflatten(1, (8 * w, 4, 4)),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(8 * w, 4 * w, 3, 1, 1),
        *gn_silu(4 * w),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(4 * w, 2 * w, 3, 1, 1),
        *gn_silu(2 * w),
        nn.Conv2d(2 * w, 2 * w, 3, 1, 1),
        *gn_silu(2 * w),
        nn.Conv2d(2 * w, k, 3, 1, 1),
    )
    return enc, dec


def augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    flip = torch.from_numpy(rng.random(len(x)) < 0.5)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dy, dx = rng.integers(-3, 4, 2)
    return torch.roll(x, (int(dy), int(dx)), (2, 3))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="plants", choices=["plants", "tuxpaint"])
    ap.add_argument("--mode", default="ola", choices=["mosaic", "ola"])
    ap.add_argument("--atoms", type=int, default=512)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench_out/patch_pick")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--data-dir", default="benchmarks/data")
    ap.add_argument("--tuxpaint", help="an existing tuxpaint_props folder")
    args = ap.parse_args(argv)
    qargs = argparse.Namespace(
        smoke=False, data_dir=args.data_dir, tuxpaint=args.tuxpaint, samples=32, seed=args.seed
    )
    from assetvae.datasets.folder import LoadOptions, load_folder, split_indices

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    spec = Q.SETS[args.set]
    root = Q.build_set(args.set, Path(args.data_dir), qargs)
    data = load_folder(root, LoadOptions(spec.size, spec.pixel_art, spec.crop))
    tr, held = split_indices(data.labels, data.paths, Q.HOLDOUT_FRACTION, Q.HOLDOUT_SEED)
    real = Q.RealReference(args.set, root, data, tr, held, qargs)
    x, y = to_tensor(data.images[tr]), torch.from_numpy(data.labels[tr]).long()

    t0 = time.perf_counter()
    atoms = Atoms(args.mode, args.atoms, spec.size)
    atoms.fit(x, args.seed)
    fit_s = time.perf_counter() - t0
    enc, dec = networks(args.atoms)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], LR)
    start, epochs = time.perf_counter(), 0
    while time.perf_counter() - start < args.minutes * 60:
        for idx in torch.randperm(len(x)).split(BATCH):
            xb = augment(x[idx], rng)
            with torch.no_grad():
                target = atoms.targets(xb)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                h = enc(xb).float()
                post = DiagonalGaussian(h[:, :LATENT], h[:, LATENT:].clamp(*LOGVAR_CLAMP))
                logits = dec(post.sample(torch.randn_like(post.mean))).float()
            ce = F.cross_entropy(
                bounded_logits(logits).permute(0, 2, 3, 1).reshape(-1, args.atoms),
                target,
                reduction="sum",
            ) / len(xb)
            kl = post.kl().mean()
            opt.zero_grad()
            (ce + BETA * kl).backward()
            opt.step()
        epochs += 1
        if epochs % 25 == 0:
            print(
                f"epoch {epochs} ce {ce.item():.1f} kl {kl.item():.1f} "
                f"{time.perf_counter() - start:.0f}s",
                flush=True,
            )
    train_s = time.perf_counter() - start
    enc.eval()
    dec.eval()

    def decode(z: torch.Tensor) -> np.ndarray:
        logits = dec(z)
        pick = F.one_hot(logits.argmax(1), args.atoms).permute(0, 3, 1, 2).float()
        return to_uint8(atoms.image(pick))

    with torch.no_grad():
        h = enc(x)
        mu, var = h[:, :LATENT], h[:, LATENT:].clamp(*LOGVAR_CLAMP).exp()
        n1 = max([Q.MUSHROOM_SAMPLES, 32] + real.counts)
        gen = torch.Generator().manual_seed(args.seed)
        eps = [torch.randn(n1, LATENT, generator=gen) for _ in data.classes]
        chol = []
        for c in range(len(data.classes)):
            m = mu[y == c]
            cov = torch.cov(m.T) + torch.diag(var[y == c].mean(0)) + 1e-5 * torch.eye(LATENT)
            chol.append((m.mean(0), torch.linalg.cholesky(cov)))
        samples = {
            s: [decode(cen + s * e @ lo.T) for (cen, lo), e in zip(chol, eps)] for s in Q.SPREADS
        }
        recon = decode(enc(to_tensor(real.images))[:, :LATENT])
    scores = Q.score_samples(real, samples)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{args.set}-{args.mode}-k{args.atoms}-{args.minutes:g}min"
    Q.sheet(real, {tag: {"recon": recon, "samples": samples}}, [tag], out / f"{tag}.png")
    result = {
        "probe": "patch_pick",
        "set": args.set,
        "mode": args.mode,
        "atoms": args.atoms,
        "minutes": args.minutes,
        "epochs_trained": epochs,
        "train_seconds": round(train_s, 1),
        "atom_fit_seconds": round(fit_s, 1),
        "sheet": str(out / f"{tag}.png"),
        **scores,
    }
    r = result
    print(
        f"{tag}: {epochs} epochs; realism {r['realism']['1']:.2f} "
        f"({'/'.join(f'{v:.1f}' for v in r['swd']['1']['ratio'])}), two-sample "
        f"{r['two_sample']['accuracy']:.3f}, colour {r['colour_truth']['mean']:.2f}, consistency "
        f"{r['consistency']['ratio']:.2f}, diversity {r['diversity']['1']['mean']:.2f}, "
        f"novelty {r['novelty']['1']:.2f}"
        + (f", mushrooms {r['mushrooms']}" if "mushrooms" in r else ""),
        flush=True,
    )
    text = json.dumps(Q.finite(result), indent=1)
    (out / f"{tag}.json").write_text(text)
    if args.json:
        Path(args.json).write_text(text)
    return result


if __name__ == "__main__":
    main()
