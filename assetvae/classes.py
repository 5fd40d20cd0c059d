"""Class fitting, a stage of its own: training images' latents -> each class's latent model.

Training ends with it, and `assetvae fit-classes RUN` re-runs it on the saved latents with
other --exemplars / --components settings, without retraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .animation_model import FrameLatents, fit_animations, write_animation_preview
from .errors import ConfigError
from .latent_map import write_latent_figures
from .latent_model import discover_styles, fit_class_model
from .model import VAE, to_tensor, to_uint8
from .plugin_api.manifest import ClassLatent
from .rundir import RunDir, load_model

BATCH = 256


@dataclass
class Encoded:
    """Posterior means and variances (float64 [N, d]) of images, with their labels."""

    means: np.ndarray
    variances: np.ndarray
    labels: np.ndarray


@torch.no_grad()
def encode_all(model: VAE, images: np.ndarray, labels: np.ndarray, device: torch.device) -> Encoded:
    model.eval()
    means, variances = [], []
    for i in range(0, len(images), BATCH):
        post = model.encode(to_tensor(images[i : i + BATCH], device))
        means.append(post.mean.double().cpu().numpy())
        variances.append(post.logvar.exp().double().cpu().numpy())
    return Encoded(np.concatenate(means), np.concatenate(variances), np.asarray(labels))


def save_frame_latents(
    run: RunDir,
    model: VAE,
    images: np.ndarray,
    labels: np.ndarray,
    refs: list,
    device: torch.device,
) -> None:
    """Encode every frame that belongs to an animation (train and validation alike: the
    animation model needs whole animations) into run/frame_latents.npz."""
    idx = np.asarray([i for i, r in enumerate(refs) if r is not None], np.int64)
    if not len(idx):
        return
    enc = encode_all(model, images[idx], labels[idx], device)
    run.write_frame_latents(enc.means, enc.labels, [refs[i] for i in idx])


def decoder_fn(model: VAE, device: torch.device | str = "cpu"):
    """float32 latents [N, d] -> uint8 display-size RGBA, in batches (for sheets and figures)."""

    @torch.no_grad()
    def decode(z: np.ndarray) -> np.ndarray:
        model.eval()
        return np.concatenate(
            [
                to_uint8(model.decode_display(torch.from_numpy(z[i : i + BATCH]).to(device)))
                for i in range(0, len(z), BATCH)
            ]
        )

    return decode


def fit_classes(
    run: RunDir,
    enc: Encoded,
    names: list[str],
    components: int | None,
    exemplar_scale: float | None,
    decode,
    discover: int | None = None,
    seed: int = 0,
) -> tuple[list[ClassLatent], np.ndarray]:
    """Fit, write class_model.json, latents.npz and the latent figures. Returns the class
    model and the labels it used (discovered styles replace the folders' labels)."""
    labels = enc.labels
    if discover:  # unlabelled: the styles the latent space shows become the classes
        try:
            labels, names = discover_styles(enc.means, discover, seed)
        except ValueError as e:
            raise ConfigError(f"--discover: {e}; ask for fewer styles") from None
    class_model = fit_class_model(
        enc.means, enc.variances, labels, names, components, exemplar_scale
    )
    frames = run.read_frame_latents() if not discover else None  # styles are not the folders
    if frames is not None:  # a run on sprite sheets: each class's animations
        fit_animations(FrameLatents(*frames), class_model, exemplar_scale)
        write_animation_preview(class_model, decode, run.previews)
    run.write_class_model(class_model)
    run.write_latents(enc.means, enc.variances, labels, names)
    write_latent_figures(enc.means, labels, class_model, decode, run.previews)
    return class_model, labels


def refit_classes(
    run_dir: str | Path, components: int | None, exemplar_scale: float | str | None
) -> list[ClassLatent]:
    """`assetvae fit-classes`: re-fit a finished run's classes from its saved latents, and
    record the new settings in its config so the export describes them. An exemplar scale
    of config.AUTO is the one the run's data gets (train.resolve_exemplars)."""
    run = RunDir(run_dir)
    state = run.load_checkpoint(for_resume=False)
    means, variances, labels, names = run.read_latents()
    model, cfg = load_model(run)
    cfg.train.components, cfg.train.exemplar_scale = components, exemplar_scale
    cfg.validate()
    cfg.train.exemplar_scale = cfg.train.exemplars()
    enc = Encoded(means, variances, labels)
    class_model, _ = fit_classes(
        run, enc, names, components, cfg.train.exemplar_scale, decoder_fn(model)
    )
    state["config"] = cfg.to_dict()
    run.save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")})
    run.write_config(cfg)
    return class_model


def latent_figures(run_dir: str | Path) -> tuple[Path, Path]:
    """Redraw a finished run's latent map and manifold grid (assetvae latent-map)."""
    run = RunDir(run_dir)
    model, cfg = load_model(run)
    means, _, labels, _ = run.read_latents()
    classes = run.read_class_model(cfg.model.latent_dim)
    return write_latent_figures(means, labels, classes, decoder_fn(model), run.previews)
