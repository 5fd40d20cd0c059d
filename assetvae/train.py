"""The training loop: config, data, model, optimiser, the loop, evaluation, checkpoints.

Every random draw of an epoch comes from a generator seeded by (seed, epoch), so a run
resumed from its last checkpoint continues exactly as if it had never stopped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from .config import RunConfig
from .corruption import corrupt, parse_noise
from .datasets.folder import LoadedDataset, LoadOptions, load_folder, split_indices
from .discriminator import PatchDiscriminator, d_hinge_loss, g_hinge_loss
from .errors import CheckpointError, ConfigError
from .latent_map import write_latent_figures
from .latent_model import discover_styles, fit_class_model
from .losses import kl_weight, vae_loss
from .model import VAE
from .plugin_api.fileio import atomic_path
from .plugin_api.images import labelled_grid, save_png
from .plugin_api.manifest import ClassLatent
from .plugin_api.rng import normals_batch
from .plugin_api.sampling import class_latents

SMALL_SET = 2000  # below this many images, augmentation is on by default
PREVIEW_SAMPLES = 8
LATENTS = "latents.npz"  # posterior means of the training images, for the latent map


@dataclass
class TrainResult:
    run_dir: Path
    epochs: int
    metrics: dict
    class_model: list[ClassLatent]
    seconds: float


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps asked for, but MPS is not available; use --device cpu or auto")
    return torch.device(name)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)


def lr_at(base: float, progress: float) -> float:
    """Cosine decay from base to base/10 as progress goes from 0 to 1."""
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Sprite-safe augmentation: horizontal flips and small shifts on transparent padding."""
    n, _, s, _ = x.shape
    flip = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None].to(x.device), x.flip(3), x)
    m = max(1, s // 16)
    shifts = torch.randint(-m, m + 1, (n, 2), generator=g).tolist()
    padded = torch.nn.functional.pad(x, (m, m, m, m))
    return torch.stack([padded[i, :, m + dy : m + dy + s, m + dx : m + dx + s] for i, (dy, dx) in enumerate(shifts)])


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 [N, S, S, 4] -> float [N, 4, S, S] in [0, 1]."""
    return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [N, 4, S, S] in [0, 1] -> uint8 [N, S, S, 4], rounding as the exported graph does."""
    return (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def encode_all(model: VAE, images: np.ndarray, device: torch.device, batch: int = 256):
    """Posterior means and variances of every image, float64 numpy [N, d] each."""
    model.eval()
    means, variances = [], []
    for i in range(0, len(images), batch):
        post = model.encode(to_tensor(images[i : i + batch], device))
        means.append(post.mean.double().cpu().numpy())
        variances.append(post.logvar.exp().double().cpu().numpy())
    return np.concatenate(means), np.concatenate(variances)


@torch.no_grad()
def evaluate(model: VAE, images: np.ndarray, cfg: RunConfig, device: torch.device) -> dict:
    """Validation loss terms (full beta), with noise from a fixed generator."""
    if len(images) == 0:
        return {}
    model.eval()
    g = torch.Generator().manual_seed(cfg.train.seed)
    tot = {"val_loss": 0.0, "val_recon": 0.0, "val_kl": 0.0, "val_psnr": 0.0}
    for i in range(0, len(images), 256):
        x = to_tensor(images[i : i + 256], device)
        noise = torch.randn(len(x), cfg.model.latent_dim, generator=g).to(device)
        logits, post = model(x, noise)
        terms = vae_loss(logits, x, post.kl(), cfg.train.beta, cfg.train.grad_weight, cfg.train.recon)
        n = len(x)
        tot["val_loss"] += float(terms.total) * n
        tot["val_recon"] += float(terms.recon) * n
        tot["val_kl"] += float(terms.kl) * n
        tot["val_psnr"] += psnr_over_grey(model.decode(post.mean), x) * n
    return {k: round(v / len(images), 4) for k, v in tot.items()}


def psnr_over_grey(pred: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR (dB) of the images composited over mid-grey, as a player would see them."""
    def over(x):
        return x[:, :3] * x[:, 3:4] + 0.5 * (1 - x[:, 3:4])

    mse = (over(pred) - over(target)).pow(2).mean().clamp_min(1e-10)
    return float(10 * torch.log10(1.0 / mse))


@torch.no_grad()
def write_previews(
    model: VAE, data: LoadedDataset, val_idx: np.ndarray, class_model: list[ClassLatent],
    run_dir: Path, epoch: int, device: torch.device,
) -> None:
    """Reconstructions of validation images beside their originals, and samples per class."""
    model.eval()
    out = run_dir / ckpt.PREVIEWS
    pick = val_idx if len(val_idx) else np.arange(len(data.images))
    pick = pick[np.linspace(0, len(pick) - 1, min(16, len(pick))).round().astype(int)]
    originals = data.images[pick]
    recon = to_uint8(model.decode(model.encode(to_tensor(originals, device)).mean))
    pairs = np.stack([originals, recon], axis=1).reshape(-1, *originals.shape[1:])
    save_png(labelled_grid([("orig|recon", pairs)], columns=8), out / f"epoch_{epoch:03d}_recon.png")
    rows = []
    keys = list(range(PREVIEW_SAMPLES - 1))
    noise = normals_batch(0, keys, model.cfg.latent_dim)
    for c in class_model:
        z = np.concatenate([
            c.anchor()[None].astype(np.float32),  # first column: the class prototype
            class_latents(c, 0, keys, noise, 1.0),  # then what the runtime would sample
        ])
        rows.append((c.name, to_uint8(model.decode(torch.from_numpy(z).to(device)))))
    save_png(labelled_grid(rows), out / f"epoch_{epoch:03d}_samples.png")


def train(
    cfg: RunConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train (or resume) a run in run_dir. Returns the final metrics and class latent model."""
    run_dir = Path(run_dir)
    state = None
    if resume:
        state = ckpt.load_checkpoint(run_dir)
        cfg = state["config"]
    cfg.validate()
    tc = cfg.train
    device = resolve_device(tc.device)
    torch.manual_seed(tc.seed)

    # data
    data = load_folder(cfg.data, LoadOptions(cfg.model.image_size, tc.pixel_art, tc.crop))
    train_idx, val_idx = split_indices(data.labels, data.paths, tc.val_fraction, tc.seed)
    train_images, val_images = data.images[train_idx], data.images[val_idx]
    use_aug = tc.augment if tc.augment is not None else len(train_idx) < SMALL_SET
    noise_spec = parse_noise(tc.noise)
    fingerprint = data.fingerprint()  # hashes every pixel: once per run, not per epoch
    if state is not None and state["dataset_fingerprint"] != fingerprint:
        log("warning: the data folder changed since this run started; resuming on the new data")
    log(f"data: {len(data.images)} images in {len(data.classes)} classes "
        f"({len(train_idx)} train, {len(val_idx)} val), augment={'on' if use_aug else 'off'}, device={device}")

    # model and optimiser
    model = VAE(cfg.model).to(device)
    opt = (torch.optim.RMSprop if tc.optimizer == "rmsprop" else torch.optim.Adam)(model.parameters(), lr=tc.lr)
    disc = d_opt = None
    if tc.adv_weight > 0:
        disc = PatchDiscriminator().to(device)
        d_opt = torch.optim.Adam(disc.parameters(), lr=tc.lr, betas=(0.5, 0.9))
    start_epoch = 0
    metrics = ckpt.read_metrics(run_dir) if resume else []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if disc is not None:
            disc.load_state_dict(state["discriminator"])
            d_opt.load_state_dict(state["d_optimizer"])
        start_epoch = state["epoch"]
        metrics = [m for m in metrics if m.get("epoch", 0) <= start_epoch]
        log(f"resuming after epoch {start_epoch} of {tc.epochs}")
        for stale in run_dir.rglob(".*.tmp"):  # temporaries of a write the crash cut short
            stale.unlink(missing_ok=True)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / ckpt.CHECKPOINT).exists():
            raise ConfigError(f"{run_dir} already holds a run; use --resume {run_dir} or another --out")
    ckpt.write_config(run_dir, cfg)

    elapsed_before = metrics[-1]["elapsed_s"] if metrics else 0.0  # so a resumed budget counts the whole run
    x_train = torch.from_numpy(train_images)  # uint8 on CPU; batches go to the device
    steps = math.ceil(len(train_idx) / tc.batch_size)
    t0 = time.perf_counter()
    saved = start_epoch
    encoded = None  # the last epoch's encodings, reused for the final class model
    try:
        for epoch in range(start_epoch + 1, tc.epochs + 1):
            model.train()
            g = epoch_generator(tc.seed, epoch)
            perm = torch.randperm(len(train_idx), generator=g)
            sums = {"loss": 0.0, "recon": 0.0, "grad": 0.0, "kl": 0.0}
            if disc is not None:
                sums.update(adv=0.0, d_loss=0.0)
            bar = tqdm(range(steps), desc=f"epoch {epoch}/{tc.epochs}", disable=not progress, leave=False)
            t_epoch = time.perf_counter()
            for step in bar:
                idx = perm[step * tc.batch_size : (step + 1) * tc.batch_size]
                x = x_train[idx].to(device).permute(0, 3, 1, 2).float().div_(255.0)
                if use_aug:
                    x = augment(x, g)
                x_in = corrupt(x, *noise_spec, g) if noise_spec else x
                e = epoch - 1 + step / steps
                progress_frac = e / tc.epochs
                if tc.time_budget_s:  # under a time budget, the schedule follows the clock
                    progress_frac = max(progress_frac, (time.perf_counter() - t0 + elapsed_before) / tc.time_budget_s)
                for group in opt.param_groups:
                    group["lr"] = lr_at(tc.lr, progress_frac)
                noise = torch.randn(len(x), cfg.model.latent_dim, generator=g).to(device)
                logits, post = model(x_in, noise)  # the loss compares with the clean x
                terms = vae_loss(logits, x, post.kl(), kl_weight(e, tc.beta, tc.warmup_epochs), tc.grad_weight, tc.recon)
                total = terms.total
                adv_on = disc is not None and progress_frac >= tc.adv_start
                if adv_on:  # the decoder is also judged on texture by the patch critic
                    fake = torch.sigmoid(logits)
                    g_adv = g_hinge_loss(disc(fake), fake.shape[2] * fake.shape[3])
                    total = total + tc.adv_weight * g_adv
                    sums["adv"] += float(g_adv.detach())
                opt.zero_grad(set_to_none=True)
                total.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1000.0)
                opt.step()
                if adv_on:
                    d_loss = d_hinge_loss(disc(x), disc(fake.detach()))
                    d_opt.zero_grad(set_to_none=True)
                    d_loss.backward()
                    d_opt.step()
                    sums["d_loss"] += float(d_loss.detach())
                for k, v in (("loss", terms.total), ("recon", terms.recon), ("grad", terms.grad), ("kl", terms.kl)):
                    sums[k] += float(v.detach())
                bar.set_postfix(loss=f"{float(terms.total.detach()):.0f}", kl=f"{float(terms.kl.detach()):.1f}")
            epoch_s = time.perf_counter() - t_epoch
            row = {"epoch": epoch, **{k: round(v / steps, 4) for k, v in sums.items()},
                   **evaluate(model, val_images, cfg, device),
                   "images_per_s": round(len(train_idx) / epoch_s, 1),
                   "elapsed_s": round(time.perf_counter() - t0 + elapsed_before, 1)}
            metrics.append(row)
            out_of_time = bool(tc.time_budget_s) and row["elapsed_s"] >= tc.time_budget_s
            last = epoch == tc.epochs or out_of_time
            if last or (tc.preview_every > 0 and epoch % tc.preview_every == 0):
                encoded = means, variances = encode_all(model, train_images, device)
                preview_model = fit_class_model(means, variances, data.labels[train_idx], data.classes,
                                                1, tc.exemplar_scale)
                write_previews(model, data, val_idx, preview_model, run_dir, epoch, device)
            # Metrics first: a crash between the two leaves an extra row that resume cuts back,
            # never a checkpoint whose row is missing.
            ckpt.write_metrics(run_dir, metrics)
            ckpt.save_checkpoint(run_dir, {
                "config": cfg.to_dict(), "model": model.state_dict(), "optimizer": opt.state_dict(),
                "epoch": epoch, "classes": data.classes, "dataset_fingerprint": fingerprint,
                "metrics": row,
                **({"discriminator": disc.state_dict(), "d_optimizer": d_opt.state_dict()} if disc else {}),
            })
            saved = epoch
            log(" ".join(f"{k}={v}" for k, v in row.items()))
            if out_of_time:
                log(f"time budget of {tc.time_budget_s:g} s reached after epoch {epoch}")
                break
    except KeyboardInterrupt:
        if saved:
            log(f"interrupted: the checkpoint after epoch {saved} is saved in {run_dir}; "
                f"continue with: assetvae train --resume {run_dir}")
        else:
            log(f"interrupted before the first epoch ended: no checkpoint in {run_dir} yet; start again")
        raise

    # The class latent model is fitted on the training images, encoded without augmentation.
    # The final epoch always encoded them for its previews; a resume of a finished run did not.
    means, variances = encoded if encoded is not None else encode_all(model, train_images, device)
    labels, names = data.labels[train_idx], data.classes
    if tc.discover:  # unlabelled: the styles the latent space shows become the classes
        try:
            labels, names = discover_styles(means, tc.discover, tc.seed)
        except ValueError as e:
            raise ConfigError(f"--discover: {e}; ask for fewer styles") from None
    class_model = fit_class_model(means, variances, labels, names, tc.components, tc.exemplar_scale)
    write_class_model(run_dir, class_model)
    with atomic_path(run_dir / LATENTS) as tmp, open(tmp, "wb") as f:
        np.savez(f, means=means, variances=variances, labels=labels)
    decode = _decoder_fn(model, device)
    write_latent_figures(means, labels, class_model, decode, run_dir / ckpt.PREVIEWS)
    if tc.discover:
        write_style_sheets(train_images, labels, class_model, decode, run_dir / ckpt.PREVIEWS)
    return TrainResult(run_dir, saved, metrics[-1] if metrics else {}, class_model,
                       time.perf_counter() - t0)


def write_style_sheets(images: np.ndarray, labels: np.ndarray, class_model: list[ClassLatent],
                       decode, out_dir: Path) -> None:
    """previews/style_K.png per discovered style: its members, then samples around it."""
    keys = list(range(PREVIEW_SAMPLES))
    noise = normals_batch(0, keys, class_model[0].centroid.shape[0])
    for i, c in enumerate(class_model):
        members = images[labels == i][:16]
        samples = decode(class_latents(c, 0, keys, noise, 1.0))
        save_png(labelled_grid([(f"{c.name} ({c.count})", members), ("samples", samples)], columns=8),
                 out_dir / f"{c.name}.png")


def _decoder_fn(model: VAE, device: torch.device):
    @torch.no_grad()
    def decode(z: np.ndarray) -> np.ndarray:
        model.eval()
        return np.concatenate([to_uint8(model.decode(torch.from_numpy(z[i : i + 256]).to(device)))
                               for i in range(0, len(z), 256)])

    return decode


def reconstruct_with_run(run_dir: str | Path):
    """(image size, restore): restore maps uint8 [N, S, S, 4] sprites to the run's reconstructions."""
    state = ckpt.load_checkpoint(run_dir)
    model = VAE(state["config"].model)
    model.load_state_dict(state["model"])
    model.eval()

    @torch.no_grad()
    def restore(images: np.ndarray) -> np.ndarray:
        return to_uint8(model.decode(model.encode(to_tensor(images, torch.device("cpu"))).mean))

    return state["config"].model.image_size, restore


def latent_figures(run_dir: str | Path) -> tuple[Path, Path]:
    """Redraw a finished run's latent map and manifold grid (assetvae latent-map)."""
    from .export.bundle import load_class_model

    run_dir = Path(run_dir)
    state = ckpt.load_checkpoint(run_dir)
    model = VAE(state["config"].model)
    model.load_state_dict(state["model"])
    path = run_dir / LATENTS
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; the run has not finished (assetvae train --resume {run_dir})")
    with np.load(path, allow_pickle=False) as z:
        means, labels = z["means"], z["labels"]
    classes = load_class_model(run_dir, state["config"].model.latent_dim)
    return write_latent_figures(means, labels, classes, _decoder_fn(model, torch.device("cpu")),
                                run_dir / ckpt.PREVIEWS)


def write_class_model(run_dir: Path, class_model: list[ClassLatent]) -> None:
    """class_model.json: the manifest's own class records, so export validates them the same way."""
    from .plugin_api.fileio import atomic_write_text
    from .plugin_api.manifest import class_to_dict

    rows = [class_to_dict(c) for c in class_model]
    atomic_write_text(run_dir / ckpt.CLASS_MODEL, json.dumps(rows, allow_nan=False) + "\n")
