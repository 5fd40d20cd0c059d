"""Sample quality on a real asset folder: ours against the classic VAE recipe, same budget.

    python benchmarks/quality.py DATA [--size 64] [--epochs N | --minutes M] [--out DIR]
        [--json out.json] [--no-baseline] [--seed 0] [--samples 32]
        [--targets auto|tuxpaint|plants|none] [--set KEY=VALUE ...]

What it does, in order:

1. Loads DATA with the training loader (``load_folder``; size, crop and pixel-art options as
   in training) and holds out a stratified 20 % (``split_indices`` with seed 0, whatever
   ``--seed`` is, so every run is judged on the same images; classes of 4 or more images give
   at least one; animation frames stay on one side). The JSON records the held-out files and
   their fingerprint: results are comparable only where that fingerprint matches (a change to
   ``split_indices`` changes the split). The training part is written to
   ``OUT/train_data`` as symlinks to the original files, one subfolder per class.
2. Trains OURS (``TrainConfig`` defaults) and the BASELINE on that folder with the same
   budget and model, through ``assetvae.train.train`` (each gets the full budget:
   ``--epochs N``, or ``--minutes M`` as ``time_budget_s``; default 20 minutes, issue 6's
   condition), exports each with ``export_bundle`` and samples through the runtime's
   ``Generator`` -- the product path.
3. Scores both (metrics below), writes ``OUT/sheet.png``, prints a table with issue 6's
   targets, and writes ``OUT/quality.json`` (and ``--json PATH``).

``--set SECTION.FIELD=VALUE`` overrides a config field (JSON values; true/false/none work):
``model.*`` applies to both recipes (same architecture); ``train.*`` applies to ours only,
except the settings both must share (batch_size, val_fraction, crop, pixel_art, device,
seed); ``baseline.train.*`` applies to the baseline only. Examples:
``--set train.beta=0.01 --set model.width=32 --set baseline.train.beta=0.5``.

The baseline: the classic convolutional VAE recipe (Chollet, *Deep Learning with Python*,
listing 8.25, and the Keras VAE examples): per-pixel binary cross-entropy on every channel,
RMSprop at lr 1e-3, no alpha weighting, no augmentation, no KL warm-up, no gradient term:
``TrainConfig(recon="bce", optimizer="rmsprop", lr=1e-3, augment=False, grad_weight=0,
warmup_epochs=0, adv_weight=0, noise=None, beta=5e-4 * H * W * 4)``. The KL weight conversion: that recipe minimises,
per image, ``mean over the P = H*W*C flattened entries of BCE + kl_loss`` with
``kl_loss = -5e-4 * mean over the d latent dims of (1 + logvar - mu^2 - exp(logvar))``.
The per-dim term is ``-2 * KL_j``, so ``kl_loss = (1e-3 / d) * KL``, which is ``5e-4 * KL``
at the recipe's d = 2: one nat of KL costs 5e-4 of a mean-BCE unit. Our loss is summed over
the P entries (and over latent dims), i.e. P times theirs, so the same price per nat is
``beta = 5e-4 * P``: 2.05 at 32 px, 8.19 at 64 px (P counts all four RGBA channels, as
flattening the RGBA image does). Keeping their code literally (a mean over our d = 32
latent dims) would instead give ``beta = 1e-3 * P / d``, 16x weaker at d = 32; we keep the
price per nat, the quantity the recipe's authors tuned, not an artefact of averaging over d.
Everything else (architecture, batch size, cosine LR decay, grad clipping, the class latent
model) is the product's and is the same for both recipes.

Metrics (definitions in ``quality_metrics.py``; all images composited over mid-grey):

- ``heldout.psnr_db``: PSNR of the held-out images' reconstructions (posterior mean ->
  decoder, torch model from the run's checkpoint), MSE pooled over the set; ``train_psnr_db``
  the same on the training part (the gap shows over-fitting).
- ``heldout.nelbo_own``: the model's own training loss at beta = 1 without the gradient
  term -- recon term (4 posterior samples, fixed noise) + KL(q(z|x) || N(0, I)), averaged over
  held-out images, divided by H*W*4 (nats per pixel-channel). For the baseline (BCE) this is
  the negative ELBO under a Bernoulli likelihood of the [0, 1] targets (the classic, not
  normalised for continuous values; its minimum is the targets' entropy, not 0); for ours
  (alpha-weighted L1 on colour + BCE on alpha) the colour part is a Laplace(b=1) negative
  log-likelihood without its log 2 constant, weighted by alpha: a pseudo-likelihood, so
  ``nelbo_own`` compares runs of one recipe, not ours against the baseline.
  ``heldout.nelbo_bce`` scores both with the baseline's all-channel BCE likelihood: a shared
  yardstick, but biased against ours (ours was never asked to put black under transparent
  pixels, which BCE on straight alpha demands).
- ``consistency``: an independent judge (not the VAE): L2 multinomial logistic regression on
  fixed features (8x8 over-grey RGB, an alpha-weighted colour histogram, a 4x4-cell gradient
  orientation histogram; L2 weight by 4-fold CV on the training part), fitted on the real
  training images. ``ceiling`` = its class-balanced accuracy on the held-out real images;
  ``by_spread[s]`` = its accuracy on the samples of each class at spread s (equal counts per
  class, so pooled = balanced); ``ratio`` = by_spread["1"] / ceiling (can exceed 1: samples
  near a class centre are easier than real held-out art).
- ``diversity[s]``: per class, mean pairwise Euclidean distance between samples in a fixed
  feature space (the over-grey image box-averaged to 16x16 RGB, 768 numbers) divided by the same over all the class's real images; mean over
  classes (per class too).
- ``sharpness[s]``: per class, mean over samples of the mean |gradient| (forward differences,
  RGB over grey, full resolution) divided by the same over the class's real images; mean over
  classes. ``sharpness_rms[s]``: the same with root-mean-square |gradient|.
- ``novelty[s]``: mean over all samples of the distance (16x16 features) to the nearest
  training image of any class, divided by the mean distance from each held-out real image to
  its nearest training image (what a genuinely new drawing scores): 0 = copies, 1 = as far
  from the training set as new real art.
- ``swd[s]``: sliced Wasserstein distance (512 fixed random directions) between 7x7 patches
  (128 random per image) of each Laplacian-pyramid level (full size down to 16 px; the last
  level is the low-pass residual) of the samples and of real half B, divided by the same
  between real halves A and B (all real images, split per class with seed 0). The samples
  for it are the first |A_c| of each class, so both sets have the same size and class mix.
  Normalised by the real set's statistics (see SWDReference).
- ``real.calibration``: what real half A scores after known damage (one 5-tap blur, half
  resolution, Gaussian noise 0.05, or only half as many distinct images): a scale for
  reading the sharpness and SWD ratios.
- ``real.copier``: the sample metrics (at spread 1) of a model that only reproduces its
  training images (training images drawn per class with replacement): consistency, SWD and
  sharpness alone reward memorising; novelty is what tells it apart.

Samples come from ``Generator.sample(cls, n, spread, seed)`` -- keys 0..n-1, so the same key
is the same noise direction at every spread. Spread 0 is the class centroid, or, where the
class latent model fitted sub-clusters (``runs.*.components``), the centroid of the
sub-cluster each key picks: then spread 0 has some diversity too.

JSON schema (``quality.json``)::

    {"benchmark": "quality", "data": str, "size": int, "classes": [str],
     "counts": {class: n}, "split": {"holdout_fraction", "holdout_seed", "train", "heldout",
       "train_per_class": {}, "heldout_per_class": {}, "swd_halves": [nA, nB],
       "heldout_fingerprint": str, "heldout_files": [str]},
     "budget": {"epochs": int|null, "minutes": float|null}, "seed": int, "samples_per_class",
     "spreads": [0, 0.5, 1, 1.5], "sets": [str],
     "classifier": {"l2", "cv_accuracy": {l2: acc}, "ceiling", "ceiling_pooled", "features"},
     "real": {"swd_real_vs_real": [per level], "swd_levels_px": [int], "novelty_reference",
              "calibration": {name: {"sharpness", "sharpness_rms", "swd_ratio": [per level]}},
              "copier": {same keys as a run's sample metrics, spread "1" only}},
     "runs": {"ours"|"baseline": {
        "config": RunConfig dict, "epochs_trained", "train_seconds", "final_metrics": {},
        "bundle": str, "parity_max_abs", "components": {class: k},
        "heldout": {"psnr_db", "train_psnr_db", "nelbo_own", "nelbo_bce", "kl_nats",
                    "recon_own_nats", "units"},
        "consistency": {"ceiling", "by_spread": {s: acc}, "ratio"},
        "diversity"|"sharpness"|"sharpness_rms": {s: {"mean", "per_class": {class: x}}},
        "novelty": {s: x}, "swd": {s: {"distance": [per level], "ratio": [per level]}},
        "eval_seconds"}},
     "targets": {"set": str, "conditions": str, "checks": [{"name", "value", "target", "pass"}],
                 "note": str (only when this run is not under the targets' conditions)},
     "sheet": str, "machine": {}, "torch_threads", "code": {"commit", "dirty", "sha256": {}},
     "wall_s": float}

Spread keys are written with ``format(s, "g")``: "0", "0.5", "1", "1.5".
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality_metrics as qm  # noqa: E402
from common import machine  # noqa: E402

SPREADS = (0.0, 0.5, 1.0, 1.5)
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0  # fixed: every run and --seed is judged on the same held-out images
SHARED_TRAIN_KEYS = {"batch_size", "val_fraction", "crop", "pixel_art", "device", "seed"}
BASELINE_KL_PER_MEAN_BCE = 5e-4
# The classic recipe; beta is set from the image size in build_configs. Levers of ours that
# the classic recipe never had are named here off, so a change of their defaults cannot leak in.
BASELINE_RECIPE = {"recon": "bce", "optimizer": "rmsprop", "lr": 1e-3, "augment": False, "grad_weight": 0.0,
                   "warmup_epochs": 0, "adv_weight": 0.0, "noise": None}
SHEET_COLUMNS = 6
COL = 20  # table column width
NELBO_SAMPLES = 4

# Issue 6's targets (name, metric path, kind, bound).
TARGETS = {
    "tuxpaint": {
        "conditions": "tuxpaint_props at 64 px, 20-minute budget per recipe, 2 CPU cores",
        "checks": [
            ("consistency s=1 / ceiling", "consistency_ratio", ">=", 0.8),
            ("diversity s=1", "diversity_1", "within", (0.8, 1.2)),
            ("sharpness s=1", "sharpness_1", ">=", 0.8),
            ("novelty s=1", "novelty_1", ">=", 0.3),
            ("held-out PSNR - baseline (dB)", "psnr_gain", ">=", 1.5),
        ],
    },
    "plants": {
        "conditions": "demo plants (assetvae demo-data --per-class 32) at 64 px, 20-minute budget per recipe",
        "checks": [
            ("consistency s=1 / ceiling", "consistency_ratio", ">=", 0.95),
            ("sharpness s=1", "sharpness_1", ">=", 0.9),
        ],
    },
}


def skey(s: float) -> str:
    return format(s, "g")


# --------------------------------------------------------------------------- configs


def parse_value(text: str):
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_sets(items: list[str]) -> list[tuple[str, str, str, object]]:
    """'[baseline.]section.field=value' -> (who, section, field, value)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        who = "baseline" if parts[0] == "baseline" else "ours"
        parts = parts[1:] if who == "baseline" else parts
        if not sep or len(parts) != 2 or parts[0] not in ("model", "train"):
            raise SystemExit(f"--set {item!r}: use [baseline.]model.FIELD=VALUE or [baseline.]train.FIELD=VALUE")
        out.append((who, parts[0], parts[1], parse_value(value)))
    return out


def apply_set(cfg, section: str, field: str, value) -> None:
    obj = getattr(cfg, section)
    names = [f.name for f in dataclasses.fields(obj)]
    if field not in names:
        raise SystemExit(f"--set: {section} has no field {field!r}; fields: {', '.join(names)}")
    setattr(obj, field, value)


def build_configs(args):
    from assetvae.config import ModelConfig, RunConfig, TrainConfig

    if args.epochs:
        budget = {"epochs": args.epochs, "time_budget_s": None}
    else:  # the clock stops training; the epoch count is only a ceiling
        budget = {"epochs": 1_000_000, "time_budget_s": args.minutes * 60.0}
    common = {"seed": args.seed, "preview_every": 0, **budget}
    ours = RunConfig(model=ModelConfig(image_size=args.size), train=TrainConfig(**common))
    known = {f.name for f in dataclasses.fields(TrainConfig)}  # levers added later stay off
    base = RunConfig(model=ModelConfig(image_size=args.size), train=TrainConfig(
        **common, **{k: v for k, v in BASELINE_RECIPE.items() if k in known}))
    sets = parse_sets(args.set)
    for who, section, field, value in sets:
        if who == "ours":
            apply_set(ours, section, field, value)
            if section == "model" or field in SHARED_TRAIN_KEYS:
                apply_set(base, section, field, value)
    # The KL weight follows the final image size (see the module docstring).
    s = base.model.image_size
    base.train.beta = BASELINE_KL_PER_MEAN_BCE * s * s * 4
    for who, section, field, value in sets:
        if who == "baseline":
            apply_set(base, section, field, value)
    for cfg in (ours, base):
        cfg.validate()
    return ours, base


# --------------------------------------------------------------------------- data


def write_train_folder(data, train_idx: np.ndarray, root: Path, dest: Path) -> Path:
    """The training part as an asset folder: OUT/train_data/CLASS/<file>, symlinks to the originals."""
    if dest.exists():
        shutil.rmtree(dest)
    for i in train_idx:
        cls = data.classes[data.labels[i]]
        src = Path(data.paths[i])
        try:
            rel = src.relative_to(root / cls)
        except ValueError:
            rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
        target = dest / cls / "__".join(rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(src.resolve(), target)
        except OSError:
            shutil.copy2(src, target)
    return dest


def swd_halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All real images split per class into halves A (floor) and B (the rest)."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        a.extend(idx[: len(idx) // 2])
        b.extend(idx[len(idx) // 2 :])
    return np.sort(np.asarray(a, np.int64)), np.sort(np.asarray(b, np.int64))


class RealReference:
    """Everything measured on the real images once, before any model is trained."""

    def __init__(self, data, train_idx, held_idx, swd_dirs: int = 512, swd_patches: int = 128):
        self.data, self.train_idx, self.held_idx = data, train_idx, held_idx
        self.images, self.labels = data.images, data.labels
        self.n_classes = len(data.classes)
        self.feats = qm.tiny_features(self.images)
        y = self.labels
        self.judge = qm.ClassJudge(self.n_classes).fit(self.images[train_idx], y[train_idx])
        self.clf = self.judge.clf
        if len(held_idx):
            pred = self.judge.predict(self.images[held_idx])
            self.ceiling = qm.balanced_accuracy(pred, y[held_idx])
            self.ceiling_pooled = float((pred == y[held_idx]).mean())
            self.novelty_ref = float(qm.nearest_distances(self.feats[held_idx], self.feats[train_idx]).mean())
        else:
            self.ceiling = self.ceiling_pooled = self.novelty_ref = float("nan")
        self.mpd = [qm.mean_pairwise_distance(self.feats[y == c]) for c in range(self.n_classes)]
        self.grad = [float(qm.gradient_magnitude(self.images[y == c]).mean()) for c in range(self.n_classes)]
        self.grad_rms = [float(qm.gradient_rms(self.images[y == c]).mean()) for c in range(self.n_classes)]
        self.half_a, self.half_b = swd_halves(y, HOLDOUT_SEED)
        self.a_counts = [int((y[self.half_a] == c).sum()) for c in range(self.n_classes)]
        self.swd = qm.SWDReference(self.images[self.half_a], self.images[self.half_b],
                                   per_image=swd_patches, n_dirs=swd_dirs)
        self.calibration = self._calibrate()

    def _calibrate(self) -> dict:
        """What known degradations of real half A score: a scale for sharpness and SWD ratios."""
        a = self.images[self.half_a]
        g = qm.over_grey(a)
        rng = np.random.default_rng(0)
        la, twice = self.labels[self.half_a], []
        for c in range(self.n_classes):  # every other image of each class, each shown twice
            idx = np.flatnonzero(la == c)
            twice.extend(np.repeat(idx[::2], 2)[: len(idx)])
        variants = {
            "blur_5tap": qm._blur(g),  # one binomial [1 4 6 4 1]/16 pass, sigma = 1 px
            "half_resolution": qm.pyr_up(qm.pyr_down(g)),
            "noise_0.05": np.clip(g + rng.normal(0.0, 0.05, g.shape), 0.0, 1.0),
            # the same count, but only half as many distinct images: SWD's sampling floor
            "half_the_images": g[np.sort(np.asarray(twice, np.int64))],
        }
        out = {}
        for name, rgb in variants.items():
            img = qm.opaque(rgb)
            out[name] = {
                "sharpness": round(float(qm.gradient_magnitude(img).mean() / qm.gradient_magnitude(a).mean()), 4),
                "sharpness_rms": round(float(qm.gradient_rms(img).mean() / qm.gradient_rms(a).mean()), 4),
                "swd_ratio": [round(v, 3) for v in self.swd.ratio(img)],
            }
        out["real_half_a"] = {"sharpness": 1.0, "sharpness_rms": 1.0, "swd_ratio": [1.0] * len(self.swd.sizes)}
        return out


# --------------------------------------------------------------------------- one recipe


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def torch_model(run_dir: Path):
    from assetvae.checkpoint import load_checkpoint
    from assetvae.model import VAE

    state = load_checkpoint(run_dir)
    model = VAE(state["config"].model)
    model.load_state_dict(state["model"])
    return model.eval(), state["config"]


def reconstruct(model, images: np.ndarray) -> np.ndarray:
    """Posterior mean -> decoder, float RGBA [N, S, S, 4] in [0, 1]."""
    import torch

    from assetvae.train import to_tensor

    out = []
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = to_tensor(images[i : i + 64], torch.device("cpu"))
            out.append(model.decode(model.encode(x).mean).permute(0, 2, 3, 1).double().numpy())
    return np.concatenate(out)


def negative_elbo(model, images: np.ndarray, recon: str, seed: int = 0) -> dict:
    """Held-out loss terms at beta = 1, no gradient term: nats per image and per pixel-channel."""
    import torch

    from assetvae.losses import vae_loss
    from assetvae.train import to_tensor

    if len(images) == 0:
        return {}
    g = torch.Generator().manual_seed(seed)
    tot = {"own": 0.0, "bce": 0.0, "kl": 0.0}
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = to_tensor(images[i : i + 64], torch.device("cpu"))
            post = model.encode(x)
            kl = post.kl()
            for _ in range(NELBO_SAMPLES):
                noise = torch.randn(len(x), model.cfg.latent_dim, generator=g)
                logits = model.decoder(post.sample(noise))
                for name, loss in (("own", recon), ("bce", "bce")):
                    tot[name] += float(vae_loss(logits, x, kl, 1.0, 0.0, loss).recon) * len(x) / NELBO_SAMPLES
            tot["kl"] += float(kl.sum())
    n, dims = len(images), images[0].size
    rec_own, rec_bce, kl = tot["own"] / n, tot["bce"] / n, tot["kl"] / n
    return {"nelbo_own": round((rec_own + kl) / dims, 5), "nelbo_bce": round((rec_bce + kl) / dims, 5),
            "kl_nats": round(kl, 3), "recon_own_nats": round(rec_own, 2),
            "units": f"nats per pixel-channel (/{dims}); kl_nats and recon_own_nats per image"}


def per_class_ratio(values: list[float], refs: list[float], classes: list[str]) -> dict:
    ratios = {c: v / r for c, v, r in zip(classes, values, refs) if np.isfinite(r) and r > 0}
    return {"mean": round(float(np.mean(list(ratios.values()))), 4) if ratios else None,
            "per_class": {c: round(float(v), 4) for c, v in ratios.items()}}


def score_samples(real: RealReference, samples: dict[float, list[np.ndarray]], classes: list[str]) -> dict:
    """consistency, diversity, sharpness, novelty and SWD of samples[spread][class]."""
    out = {"consistency": {"ceiling": round(real.ceiling, 4), "by_spread": {}},
           "diversity": {}, "sharpness": {}, "sharpness_rms": {}, "novelty": {}, "swd": {}}
    train_feats = real.feats[real.train_idx]
    for s, per_class in samples.items():
        k = skey(s)
        feats = [qm.tiny_features(x) for x in per_class]
        pred = real.judge.predict(np.concatenate(per_class))
        y = np.concatenate([np.full(len(f), c) for c, f in enumerate(feats)])
        out["consistency"]["by_spread"][k] = round(qm.balanced_accuracy(pred, y), 4)
        out["diversity"][k] = per_class_ratio([qm.mean_pairwise_distance(f) for f in feats], real.mpd, classes)
        out["sharpness"][k] = per_class_ratio(
            [float(qm.gradient_magnitude(x).mean()) for x in per_class], real.grad, classes)
        out["sharpness_rms"][k] = per_class_ratio(
            [float(qm.gradient_rms(x).mean()) for x in per_class], real.grad_rms, classes)
        nn = qm.nearest_distances(np.concatenate(feats), train_feats).mean()
        out["novelty"][k] = round(float(nn / real.novelty_ref), 4)
        fake = np.concatenate([x[:n] for x, n in zip(per_class, real.a_counts)])
        d = real.swd.distances(fake)
        out["swd"][k] = {"distance": [round(v, 5) for v in d],
                         "ratio": [round(v / r, 3) for v, r in zip(d, real.swd.real_vs_real)]}
    c = out["consistency"]
    c["ratio"] = round(c["by_spread"]["1"] / real.ceiling, 4) if "1" in c["by_spread"] and real.ceiling > 0 else None
    return out


def copier_reference(real: RealReference, classes: list[str], n: int, seed: int) -> dict:
    """What a model that only reproduces its training images would score (at spread 1)."""
    rng = np.random.default_rng(seed)
    y = real.labels
    copies = [real.images[rng.choice(real.train_idx[y[real.train_idx] == c], n, replace=True)]
              for c in range(len(classes))]
    return score_samples(real, {1.0: copies}, classes)


def run_recipe(name: str, cfg, out: Path, real: RealReference, args) -> tuple[dict, dict]:
    """Train, export, sample through the runtime, score. Returns (JSON row, images for the sheet)."""
    from assetvae.export.bundle import export_bundle
    from assetvae.plugin_api import Generator
    from assetvae.train import train

    run_dir = out / name / "run"
    t0 = time.perf_counter()
    res = train(cfg, run_dir, progress=False, log=lambda s: print(f"[{name}] {s}", flush=True))
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    bundle = out / name / f"{name}.avae.onnx"
    rep = export_bundle(run_dir, bundle)
    gen = Generator.load(bundle, device="cpu")
    classes = real.data.classes
    if gen.classes != classes:  # e.g. train.discover: styles found by clustering, not the folders
        raise SystemExit(f"{name}: the bundle's classes {gen.classes} differ from the data's folder classes "
                         f"{classes}; this benchmark scores folder classes (leave train.discover unset)")
    n = max([args.samples] + real.a_counts)
    samples = {s: [gen.sample(c, n, spread=s, seed=args.seed) for c in classes] for s in SPREADS}

    model, _ = torch_model(run_dir)
    rec = reconstruct(model, real.images)
    held, tr = real.held_idx, real.train_idx
    heldout = {"psnr_db": round(qm.psnr(qm.over_grey(rec[held]), qm.over_grey(real.images[held])), 3)
               if len(held) else None,
               "train_psnr_db": round(qm.psnr(qm.over_grey(rec[tr]), qm.over_grey(real.images[tr])), 3),
               **negative_elbo(model, real.images[held], cfg.train.recon, seed=0)}
    row = {"config": cfg.to_dict(), "epochs_trained": res.epochs, "train_seconds": round(train_s, 1),
           "final_metrics": res.metrics, "bundle": str(bundle), "parity_max_abs": rep.parity_max_abs,
           "components": {c.name: len(getattr(c, "components", None) or []) or 1 for c in gen.manifest.classes},
           "heldout": heldout, **score_samples(real, samples, classes)}
    row["eval_seconds"] = round(time.perf_counter() - t1, 1)
    return row, {"recon": _to_uint8(rec), "samples": samples}


# --------------------------------------------------------------------------- sheet


def sheet(real: RealReference, shown: dict[str, dict], title: list[str], path: Path) -> None:
    """Per class: real images (held-out first), their reconstructions, samples at each spread;
    ours left of the dark column, the baseline right of it."""
    from PIL import Image, ImageDraw, ImageFont

    from assetvae.plugin_api.images import labelled_grid, save_png

    size = real.images.shape[1]
    blank = np.zeros((1, size, size, 4), np.uint8)
    bar = np.zeros((1, size, size, 4), np.uint8)
    bar[..., 3] = 255  # opaque black separator

    def side_by_side(parts: list[np.ndarray]) -> np.ndarray:
        padded = [np.concatenate([p[:SHEET_COLUMNS]] + [blank] * (SHEET_COLUMNS - len(p[:SHEET_COLUMNS])))
                  for p in parts]
        out = [padded[0]]
        for p in padded[1:]:
            out += [bar, p]
        return np.concatenate(out)

    names = list(shown)
    rows = []
    for c, cls in enumerate(real.data.classes):
        held = real.held_idx[real.labels[real.held_idx] == c]
        train = real.train_idx[real.labels[real.train_idx] == c]
        pick = np.concatenate([held, train])[:SHEET_COLUMNS]
        n_held = int(min(len(held), SHEET_COLUMNS))
        rows.append((f"{cls} real ({n_held} held-out)", side_by_side([real.images[pick]] * len(names))))
        rows.append((f"{cls} recon", side_by_side([shown[k]["recon"][pick] for k in names])))
        for s in SPREADS:  # spread 0: the class centroid, or its sub-cluster centroids
            rows.append((f"{cls} spread {skey(s)}", side_by_side([shown[k]["samples"][s][c] for k in names])))
    grid = labelled_grid(rows, scale=max(1, 64 // size))
    font = ImageFont.load_default()
    band = 14 * len(title) + 6
    page = Image.new("RGB", (grid.width, grid.height + band), (40, 40, 40))
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(title):
        draw.text((4, 4 + 14 * i), line, fill=(255, 255, 255), font=font)
    page.paste(grid, (0, band))
    save_png(page, path)


# --------------------------------------------------------------------------- targets and table


def pick_targets(choice: str, data_path: str, classes: list[str]) -> str | None:
    if choice != "auto":
        return None if choice == "none" else choice
    from assetvae.datasets.demo import DEMO_CLASSES

    if set(classes) == set(DEMO_CLASSES):
        return "plants"
    return "tuxpaint"  # issue 6's general targets; flagged when the data is another folder


def check_targets(which: str | None, runs: dict) -> list[dict]:
    if which is None or "ours" not in runs:
        return []
    o = runs["ours"]
    values = {
        "consistency_ratio": o["consistency"]["ratio"],
        "diversity_1": o["diversity"]["1"]["mean"],
        "sharpness_1": o["sharpness"]["1"]["mean"],
        "novelty_1": o["novelty"]["1"],
        "psnr_gain": (o["heldout"]["psnr_db"] - runs["baseline"]["heldout"]["psnr_db"])
        if "baseline" in runs and o["heldout"]["psnr_db"] is not None else None,
    }
    out = []
    for name, key, kind, bound in TARGETS[which]["checks"]:
        v = values[key]
        if v is None:
            ok = None
        elif kind == "within":
            ok = bool(bound[0] <= v <= bound[1])
        else:
            ok = bool(v >= bound)
        text = f"{bound[0]:g}..{bound[1]:g}" if kind == "within" else f">= {bound:g}"
        out.append({"name": name, "value": None if v is None else round(float(v), 4), "target": text, "pass": ok})
    return out


def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, (list, tuple)):
        return "/".join(fmt(x, 2) for x in v)
    return f"{v:.{digits}f}"


def print_table(result: dict) -> None:
    runs = {**result["runs"], "train copies (ref)": {
        "epochs_trained": "-", "train_seconds": "-", "heldout": {"psnr_db": None, "train_psnr_db": None},
        **result["real"]["copier"]}}
    names = list(runs)
    width = 34
    print()
    print(f"{'metric':<{width}}" + "".join(f"{n:>{COL}}" for n in names))

    def line(label, get, digits=3):
        vals = []
        for n in names:
            try:
                vals.append(fmt(get(runs[n]), digits))
            except (KeyError, TypeError):
                vals.append("-")
        print(f"{label:<{width}}" + "".join(f"{v:>{COL}}" for v in vals))

    def text_line(label, texts):
        print(f"{label:<{width}}" + "".join(f"{t:>{COL}}" for t in texts))

    text_line("epochs / train s", [f"{runs[n]['epochs_trained']} / {runs[n]['train_seconds']}" for n in names])
    text_line("held-out PSNR dB (train part)",
              [f"{fmt(runs[n]['heldout']['psnr_db'], 2)} ({fmt(runs[n]['heldout']['train_psnr_db'], 2)})"
               for n in names])
    line("neg. ELBO own, nats/dim", lambda r: r["heldout"]["nelbo_own"], 4)
    line("neg. ELBO all-channel BCE", lambda r: r["heldout"]["nelbo_bce"], 4)
    line("KL nats / image", lambda r: r["heldout"]["kl_nats"], 1)
    print(f"{'classifier ceiling (held-out)':<{width}}{fmt(result['classifier']['ceiling']):>{COL}}")
    for s in result["spreads"]:
        line(f"consistency s={skey(s)}", lambda r, s=s: r["consistency"]["by_spread"][skey(s)])
    line("consistency s=1 / ceiling", lambda r: r["consistency"]["ratio"])
    for metric in ("diversity", "sharpness", "sharpness_rms"):
        for s in result["spreads"]:
            line(f"{metric} s={skey(s)}", lambda r, s=s, m=metric: r[m][skey(s)]["mean"])
    for s in result["spreads"]:
        line(f"novelty s={skey(s)}", lambda r, s=s: r["novelty"][skey(s)])
    px = "/".join(map(str, result["real"]["swd_levels_px"]))
    for s in result["spreads"]:
        line(f"SWD ratio {px}px s={skey(s)}", lambda r, s=s: r["swd"][skey(s)]["ratio"])
    print("reference points (real half A degraded): sharpness / sharpness_rms / SWD ratio per level")
    for name, c in result["real"]["calibration"].items():
        print(f"  {name:<{width - 2}}{fmt(c['sharpness'])} / {fmt(c['sharpness_rms'])} / {fmt(c['swd_ratio'])}")
    t = result["targets"]
    if t["checks"]:
        print(f"\nissue 6 targets ({t['set']}: {t['conditions']}):")
        for c in t["checks"]:
            verdict = {True: "PASS", False: "fail", None: "n/a"}[c["pass"]]
            print(f"  {c['name']:<32}{fmt(c['value']):>10}   {c['target']:<12}{verdict}")
        if t.get("note"):
            print(f"  note: {t['note']}")


# --------------------------------------------------------------------------- main


def code_version() -> dict:
    root = Path(__file__).resolve().parents[1]
    info: dict = {"sha256": {}}
    for rel in ("assetvae/model.py", "assetvae/losses.py", "assetvae/train.py", "assetvae/config.py"):
        p = root / rel
        if p.exists():
            info["sha256"][rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:12]
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                        text=True, timeout=10).stdout.strip() or None
        info["dirty"] = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                            capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        info["commit"], info["dirty"] = None, None
    return info


def finite(x):
    """NaN and infinities (a metric with nothing to measure) as JSON null."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--size", type=int, default=64)
    budget = ap.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="train each recipe for N epochs")
    budget.add_argument("--minutes", type=float, help="train each recipe for M minutes (default 20)")
    ap.add_argument("--out", help="results folder (default bench_out/quality/NAME-SIZEpx-TIME)")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--seed", type=int, default=0, help="training and sampling seed (the split is fixed)")
    ap.add_argument("--samples", type=int, default=32, help="samples per class and spread (at least)")
    ap.add_argument("--targets", default="auto", choices=["auto", "tuxpaint", "plants", "none"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    if args.epochs is None and args.minutes is None:
        args.minutes = 20.0
    if (args.epochs is not None and args.epochs < 1) or (args.minutes is not None and not args.minutes > 0):
        raise SystemExit("the budget must be positive")

    import torch

    from assetvae.datasets.folder import LoadOptions, load_folder, split_indices

    t_start = time.perf_counter()
    ours_cfg, base_cfg = build_configs(args)
    data_root = Path(args.data)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or f"bench_out/quality/{data_root.resolve().name}-{ours_cfg.model.image_size}px-{stamp}")
    if (out / "ours" / "run").exists() or (out / "baseline" / "run").exists():
        raise SystemExit(f"{out} already holds runs; give another --out")
    out.mkdir(parents=True, exist_ok=True)

    tc = ours_cfg.train
    data = load_folder(data_root, LoadOptions(ours_cfg.model.image_size, tc.pixel_art, tc.crop))
    train_idx, held_idx = split_indices(data.labels, data.paths, HOLDOUT_FRACTION, HOLDOUT_SEED)
    train_dir = write_train_folder(data, train_idx, data_root, out / "train_data")
    classes = data.classes
    held_files = sorted(str(Path(data.paths[i]).relative_to(data_root)) if Path(data.paths[i]).is_relative_to(data_root)
                        else Path(data.paths[i]).name for i in held_idx)
    print(f"data: {len(data.images)} images in {len(classes)} classes; {len(train_idx)} train, "
          f"{len(held_idx)} held out; results in {out}", flush=True)

    t0 = time.perf_counter()
    real = RealReference(data, train_idx, held_idx)
    print(f"real reference: classifier ceiling {real.ceiling:.3f} (l2 {real.clf.l2:g}), "
          f"SWD real-vs-real {[round(v, 4) for v in real.swd.real_vs_real]} ({time.perf_counter() - t0:.1f} s)",
          flush=True)

    copier = copier_reference(real, classes, max([args.samples] + real.a_counts), args.seed)

    recipes = [("ours", ours_cfg)] + ([] if args.no_baseline else [("baseline", base_cfg)])
    runs, shown = {}, {}
    for name, cfg in recipes:
        cfg.data = str(train_dir)
        runs[name], shown[name] = run_recipe(name, cfg, out, real, args)

    budget_text = f"{args.epochs} epochs" if args.epochs else f"{args.minutes:g} min"
    title = [f"{data_root.resolve().name} at {data.images.shape[1]} px, {budget_text} per recipe, seed {args.seed}",
             "left: ours" + ("  |  right of the black column: baseline (classic BCE recipe)" if len(runs) > 1 else ""),
             "rows per class: real (held-out first), reconstructions of those, samples at spread 0 (centroids), 0.5, 1, 1.5 (same keys)"]
    sheet_path = out / "sheet.png"
    sheet(real, shown, title, sheet_path)

    which = pick_targets(args.targets, args.data, classes)
    targets = {"set": which, "conditions": TARGETS[which]["conditions"] if which else None,
               "checks": check_targets(which, runs)}
    # Issue 6's numbers are for 64 px and a 20-minute budget per recipe (tuxpaint: that folder).
    off = ours_cfg.model.image_size != 64 or not args.minutes or args.minutes < 20 or (
        which == "tuxpaint" and "tuxpaint" not in str(data_root.resolve()))
    if which and off:
        targets["note"] = "this run is not under the targets' conditions: indicative only"

    result = {
        "benchmark": "quality", "data": str(data_root.resolve()), "size": int(data.images.shape[1]),
        "classes": classes, "counts": data.counts(),
        "split": {"holdout_fraction": HOLDOUT_FRACTION, "holdout_seed": HOLDOUT_SEED,
                  "train": len(train_idx), "heldout": len(held_idx),
                  "train_per_class": {c: int((data.labels[train_idx] == i).sum()) for i, c in enumerate(classes)},
                  "heldout_per_class": {c: int((data.labels[held_idx] == i).sum()) for i, c in enumerate(classes)},
                  "swd_halves": [len(real.half_a), len(real.half_b)],
                  "heldout_fingerprint": hashlib.sha256("\n".join(held_files).encode()).hexdigest()[:16],
                  "heldout_files": held_files},
        "budget": {"epochs": args.epochs, "minutes": None if args.epochs else args.minutes},
        "seed": args.seed, "samples_per_class": max([args.samples] + real.a_counts),
        "spreads": list(SPREADS), "sets": args.set,
        "classifier": {"l2": real.clf.l2, "cv_accuracy": {format(k, "g"): round(v, 4) for k, v in real.clf.cv_accuracy.items()},
                       "ceiling": round(real.ceiling, 4), "ceiling_pooled": round(real.ceiling_pooled, 4),
                       "features": "8x8 RGB over grey + alpha-weighted 4x4x4 colour histogram + 4x4x8 orientation histogram"},
        "real": {"swd_real_vs_real": [round(v, 5) for v in real.swd.real_vs_real],
                 "swd_levels_px": real.swd.sizes, "novelty_reference": round(real.novelty_ref, 4),
                 "calibration": real.calibration, "copier": copier},
        "runs": runs, "targets": targets, "sheet": str(sheet_path),
        "machine": machine(), "torch_threads": torch.get_num_threads(), "code": code_version(),
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    print_table(result)
    text = json.dumps(finite(result), indent=2, allow_nan=False)
    (out / "quality.json").write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(f"\nsheet: {sheet_path}\njson: {out / 'quality.json'}" + (f", {args.json}" if args.json else ""))


if __name__ == "__main__":
    main()
