"""The training loop: config, data, model, optimiser, the loop, evaluation, checkpoints, and
class fitting at the end.

Every random draw of an epoch comes from a generator seeded by (seed, epoch), so a run
resumed from its last checkpoint continues exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .adversarial import RAMP, Adversary, balanced_backward, variant_latents
from .classes import Encoded, decoder_fn, encode_all, fit_classes, save_frame_latents
from .config import (
    ALPHA_HAZE,
    ALPHA_MARGIN,
    AUTO,
    AUTO_PALETTE,
    DEFAULT_EXEMPLAR_SCALE,
    DEFAULT_LATENT,
    DEFAULT_WIDTH,
    HAZE_LEVELS,
    PAINTED_ADV,
    PAINTED_FAKES,
    PAINTED_MIN_SIZE,
    PAINTED_NOISE,
    PAINTED_SWD,
    PIXEL_LATENT,
    PIXEL_WIDTH,
    RunConfig,
    TrainConfig,
)
from .corruption import corrupt, parse_noise
from .datasets.cache import Rows
from .datasets.folder import LoadOptions, scan_folder, split_indices
from .datasets.grid import scan_folder_grid, scan_grid
from .datasets.sheets import SheetOptions, load_dataset, parse_grid, scan_arrays, split_groups
from .distributed import Dist
from .errors import ConfigError
from .latent_model import fit_class_model
from .losses import TERMS, Batch, colour, kl_weight, over_grey, recon_name, vae_loss
from .model import VAE, DiagonalGaussian, to_tensor, to_uint8
from .plugin_api.manifest import ClassLatent
from .previews import upscale, write_epoch_previews, write_style_sheets
from .rundir import RunDir

SMALL_SET = 2000  # below this many images, augmentation is on by default
EVAL_BATCH = 256
PREVIEW_FIT = 4096  # training images a mid-run preview sheet's class model is fitted on
HAZE_SAMPLE = 2000  # training images a decision from the data looks at, at most (look_at)


@dataclass
class TrainResult:
    run_dir: Path
    epochs: int
    metrics: dict
    class_model: list[ClassLatent]  # empty on the processes other than rank 0
    seconds: float
    rank: int = 0  # this process's rank when several train together (assetvae/distributed.py)


@dataclass
class TrainData:
    """The loaded folder, split, with what the loop needs to know about it."""

    images: np.ndarray  # uint8 [N, S, S, 4], all images
    labels: np.ndarray
    classes: list[str]
    train_idx: np.ndarray
    val_idx: np.ndarray
    augment: bool
    fingerprint: str
    frames: list | None = None  # per image, its FrameRef in an animation or None (a still)

    @property
    def train_images(self) -> Rows:
        """The training images, read from images (a memory map for a cached folder) only when
        indexed: a large folder is never copied whole."""
        return Rows(self.images, self.train_idx)


def resolve_native_grid(cfg: RunConfig, log: Callable[[str], None]) -> None:
    """Decide once per run whether to train on the set's native pixel grid, and record the
    decision in cfg (a resumed run keeps it): the model then trains at the native size and
    its bundle upscales by nearest to the size asked for."""
    tc, mc = cfg.train, cfg.model
    if tc.native_grid is False or mc.output_scale > 1 or tc.crop is False:
        tc.native_grid = bool(mc.output_scale > 1)
        return
    arrays = scan_arrays(cfg.data, sheet_options(cfg))  # a folder of sheets: their frames
    report = (
        scan_grid(arrays, mc.image_size)
        if arrays is not None
        else scan_folder_grid(scan_folder(cfg.data).all_files(), mc.image_size)
    )
    native = report.native_size
    if tc.native_grid and native is None and report.extent < mc.image_size:  # forced
        native = next(s for s in (16, 32, 64, 128) if s >= report.extent)
    if native is not None and native < mc.image_size:
        log(report.message(mc.image_size))
        mc.output_scale, mc.image_size = mc.image_size // native, native
    tc.native_grid = mc.output_scale > 1


def resolve_size(cfg: RunConfig, log: Callable[[str], None]) -> None:
    """Decide the latent size and width the user left open (None): pixel art on its native
    grid gets PIXEL_LATENT at PIXEL_WIDTH (it measured ahead on the two-sample test, README),
    anything else the defaults. Recorded in cfg."""
    mc = cfg.model
    pixel = bool(cfg.train.native_grid)
    chosen = []
    if mc.latent_dim is None:
        mc.latent_dim = PIXEL_LATENT if pixel else DEFAULT_LATENT
        chosen.append(f"a {mc.latent_dim}-d latent")
    if mc.width is None:
        mc.width = PIXEL_WIDTH if pixel else DEFAULT_WIDTH
        mc.max_width = max(mc.max_width, mc.width)
        chosen.append(f"width {mc.width}")
    if pixel and chosen:
        log(
            f"size: pixel art on its grid gets {' and '.join(chosen)} "
            f"(--latent {DEFAULT_LATENT} --width {DEFAULT_WIDTH}: the size other art gets)"
        )


def resolve_exemplars(cfg: RunConfig, log: Callable[[str], None]) -> None:
    """Decide the exemplar scale the user left open (AUTO): pixel art on its native grid
    gets PIXEL_EXEMPLAR_SCALE (its variants measured nearer the art on the two-sample test,
    README), anything else DEFAULT_EXEMPLAR_SCALE. Recorded in cfg."""
    tc = cfg.train
    if tc.exemplar_scale != AUTO:
        return
    tc.exemplar_scale = tc.exemplars()
    if tc.native_grid:
        log(
            f"exemplars: pixel art's variants vary a training sprite by {tc.exemplar_scale:g} of "
            f"its class's spread (--exemplars {DEFAULT_EXEMPLAR_SCALE:g}: what other art gets)"
        )


def resolve_texture(cfg: RunConfig, log: Callable[[str], None]) -> None:
    """Decide the texture levers the user left open (None): painted art at 64 px and up gets
    patch-SWD, the critic and texture noise (they measured best there, README), anything
    else none (pixel art keeps its crisp grid and palette). Recorded in cfg."""
    tc, mc = cfg.train, cfg.model
    painted = (
        not tc.native_grid
        and not tc.palette
        and mc.arch == "plain"
        and mc.image_size >= PAINTED_MIN_SIZE
    )
    chosen = []
    if "swd" not in tc.loss_weights:
        tc.loss_weights["swd"] = PAINTED_SWD if painted else 0.0
        chosen.append(f"patch-SWD {tc.loss_weights['swd']:g}")
    if tc.adv_weight is None:
        tc.adv_weight = PAINTED_ADV if painted else 0.0
        chosen.append(f"critic {tc.adv_weight:g}")
    if mc.texture_noise is None:
        mc.texture_noise = PAINTED_NOISE if painted else 0
        chosen.append(f"texture noise at {mc.texture_noise} levels")
    if tc.sampled_fakes is None:
        tc.sampled_fakes = PAINTED_FAKES if painted and tc.adv_weight else 0.0
        if tc.sampled_fakes:
            chosen.append(f"sampled fakes {tc.sampled_fakes:g}")
    if painted and chosen:
        log(
            f"texture: painted art at {mc.image_size} px gets {', '.join(chosen)} "
            "(--swd-weight 0 --adv-weight 0 --texture-noise 0 --sampled-fakes 0: the smooth "
            "recipe)"
        )


def look_at(data: TrainData) -> np.ndarray:
    """The training images a decision from the data looks at: all of a small set, at most
    HAZE_SAMPLE evenly spread ones of a large folder (enough to tell). Sorted indices."""
    idx = data.train_idx
    return np.unique(
        idx[np.linspace(0, len(idx) - 1, min(len(idx), HAZE_SAMPLE)).round().astype(int)]
    )


def haze_share(images: np.ndarray) -> float:
    """Share of the visible pixels (alpha > 0) of uint8 RGBA images [N, S, S, 4] that are
    faint halo or not-quite-solid edge: alpha within HAZE_LEVELS/255 of 0 or 255, not at it."""
    a = np.asarray(images)[..., 3]
    visible = int(np.count_nonzero(a))
    near_0 = (a > 0) & (a <= HAZE_LEVELS)
    near_1 = (a >= 255 - HAZE_LEVELS) & (a < 255)
    return int(np.count_nonzero(near_0 | near_1)) / visible if visible else 0.0


def resolve_alpha(cfg: RunConfig, data: TrainData, log: Callable[[str], None]) -> None:
    """Decide the alpha's margin the user left open (None) from the training images: open
    alpha (exactly transparent and exactly solid), or the plain sigmoid's for art with a faint
    halo (ALPHA_HAZE), which open alpha would clip away. Recorded in cfg."""
    mc = cfg.model
    if mc.alpha_margin is not None:
        return
    share = haze_share(data.images[look_at(data)])
    mc.alpha_margin = 0.0 if share > ALPHA_HAZE else ALPHA_MARGIN
    if mc.palette or cfg.train.palette:
        return  # a palette decoder picks its alpha from the palette
    if mc.alpha_margin:
        log(f"alpha: open (margin {mc.alpha_margin:g}): hard-edged art, {share:.1%} faint haze")
    else:
        log(
            f"alpha: the plain sigmoid's: {share:.1%} of the art's visible pixels are faint "
            "halo or near-solid edge (--alpha-margin 0.05: exact 0 and 1)"
        )


def resolve_flip(cfg: RunConfig, data: TrainData, log: Callable[[str], None]) -> None:
    """Decide, when the user left it open (None), which classes augmentation may mirror: all
    but those whose art leans one way (assetvae/mirror.py). Recorded in cfg."""
    tc = cfg.train
    if tc.flip is not None or not data.augment:
        return
    from .mirror import HANDED, handedness

    idx = look_at(data)
    score = handedness(data.images[idx], data.labels[idx], len(data.classes))
    handed = [(c, h) for c, h in zip(data.classes, score) if h > HANDED]
    tc.flip, tc.handed = True, [c for c, _ in handed]
    if handed:
        drawn = ", ".join(f"{c} ({h:.0%})" for c, h in handed)
        log(
            f"flip: mirrored in augmentation except {drawn}: drawn one way round, their edges "
            "change that much in a mirror (--flip mirrors every class, --no-flip none)"
        )


def resolve_palette(cfg: RunConfig, data: TrainData, log: Callable[[str], None]) -> None:
    """Fit the palette the decoder picks from (assetvae/palette.py), when asked for or, by
    default, for pixel art on its native grid; record the decision in cfg."""
    tc = cfg.train
    if tc.palette is None:
        tc.palette = AUTO_PALETTE if cfg.model.output_scale > 1 else 0
        why = " (pixel art; --palette 0 keeps RGBA output)"
    else:
        why = ""
    if not tc.palette:
        return
    from .palette import fit_palette

    rows = data.train_images
    pick = np.linspace(0, len(rows) - 1, min(len(rows), 4096)).round().astype(int)
    cfg.model.palette = fit_palette(rows[pick], tc.palette, tc.seed).tolist()
    log(f"palette: {tc.palette} colours fitted to the training images{why}")


def sheet_options(cfg: RunConfig) -> SheetOptions:
    tc = cfg.train
    return SheetOptions(parse_grid(tc.grid), tc.grid_margin, tc.grid_spacing)


def load_data(cfg: RunConfig, log: Callable[[str], None] | None = None) -> TrainData:
    tc = cfg.train
    options = LoadOptions(
        cfg.model.image_size, tc.pixel_art, tc.crop, native=cfg.model.output_scale > 1
    )
    # Sheets and atlases are cut into frames; a folder of stills loads as it always did.
    data = load_dataset(cfg.data, options, sheet_options(cfg), log=log)
    # The frames of one animation stay on one side of the split.
    train_idx, val_idx = split_indices(
        data.labels, data.paths, tc.val_fraction, tc.seed, split_groups(data.frames)
    )
    use_aug = tc.augment if tc.augment is not None else len(train_idx) < SMALL_SET
    # The fingerprint hashes every pixel: once per run, not per epoch.
    return TrainData(
        data.images,
        data.labels,
        data.classes,
        train_idx,
        val_idx,
        use_aug,
        data.fingerprint(),
        data.frames,
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto"
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(
            "--device mps asked for, but MPS is not available; use --device cpu or auto"
        )
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 is fast here: a CUDA GPU with bf16 (Ampere and later), or a CPU with bf16
    instructions (AVX512-BF16 or AMX). On other CPUs bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


# On a GPU, small batches are bound by kernel launches, which autocast adds: on an H200 at
# 64 px, bf16 trained batch 32 at 0.66x fp32's images/s, batch 256 at 1.05x, 1024 at 1.15x
# (benchmarks/gpu_paths.py; benchmarks/results/gpu_paths.json).
CUDA_BF16_MIN_BATCH = 256


def amp_dtype(mode: str, device: torch.device, batch_size: int | None = None) -> torch.dtype | None:
    """The autocast dtype of the training forward pass (None: fp32). bf16 keeps fp32's range,
    so no loss scaling is needed. "auto" uses it where it is native (native_bf16) and pays: on
    a 2-core AVX512-BF16 CPU it trained the default network 1.6x faster with the same loss per
    epoch (benchmarks/train_speed.py; README); on a GPU from CUDA_BF16_MIN_BATCH up."""
    if mode == "off" or (mode == "auto" and not native_bf16(device)):
        return None
    if mode == "auto" and device.type == "cuda" and (batch_size or 0) < CUDA_BF16_MIN_BATCH:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        if mode == "bf16":
            raise ConfigError("--amp bf16 asked for, but this GPU has no bf16; use --amp off")
        return None
    return torch.bfloat16


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)


def lr_at(base: float, progress: float, schedule: str = "cosine") -> float:
    """Cosine decay from base to base/10 as progress goes from 0 to 1 (or constant)."""
    if schedule == "constant":
        return base
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def augment(
    x: torch.Tensor,
    g: torch.Generator,
    shift: int | None = None,
    mirror: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sprite-safe augmentation: horizontal flips and small shifts on transparent padding.
    mirror ([N] bool) says which rows may be flipped; None: all."""
    n, _, s, _ = x.shape
    flip = torch.rand(n, generator=g) < 0.5  # drawn for every row: the shifts stay the same
    if mirror is not None:
        flip &= mirror
    x = torch.where(flip[:, None, None, None].to(x.device), x.flip(3), x)
    m = max(1, s // 16) if shift is None else shift
    if m == 0:
        return x
    shifts = torch.randint(-m, m + 1, (n, 2), generator=g).tolist()
    padded = torch.nn.functional.pad(x, (m, m, m, m))
    return torch.stack(
        [
            padded[i, :, m + dy : m + dy + s, m + dx : m + dx + s]
            for i, (dy, dx) in enumerate(shifts)
        ]
    )


def make_optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    """Adam (or RMSprop); with weight_decay, AdamW that decays the conv and linear weights
    only: norms' scales and biases set levels, not capacity."""
    if tc.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=tc.lr)
    if not tc.weight_decay:
        return torch.optim.Adam(model.parameters(), lr=tc.lr)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": tc.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=tc.lr)


class Trainer:
    """The model, its optimiser and (optionally) the adversary, and one training step."""

    def __init__(self, cfg: RunConfig, device: torch.device, dist: Dist | None = None):
        tc = cfg.train
        dist = dist or Dist()
        self.cfg, self.device, self.dist = cfg, device, dist
        self.model = VAE(cfg.model).to(device)
        cfg.model = self.model.cfg  # recorded as built: a size left open is settled
        self.amp = amp_dtype(tc.amp, device, tc.batch_size)
        # NHWC is what the CPU's bf16 kernels want (1.62x fp32 against bf16's 1.57x); on the
        # H200 it was 3-5% slower than NCHW at every batch measured, in bf16 too.
        self.channels_last = (
            tc.channels_last
            if tc.channels_last is not None
            else device.type == "cpu" and self.amp is not None
        )
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.forward = dist.wrap(self.model)  # what the step calls: DDP under torchrun
        if tc.compile:
            self.forward = torch.compile(self.forward)
        self.opt = make_optimizer(self.model, tc)
        wrap = dist.wrap if dist.active else None  # the critic is shared between processes too
        self.adversary = (
            Adversary(
                tc.adv_weight, tc.lr, device, tc.seed, wrap, tc.lecam_weight, tc.feature_match
            )
            if tc.adv_weight
            else None
        )
        self.weights = {name: tc.weight(name) for name in TERMS}
        self.recon = recon_name(cfg.model.palette, tc.recon)
        self.palette = self.model.decoder.palette  # None, or what the logits pick from
        self.alpha_margin = self.model.decoder.alpha_margin
        self.noise_spec = parse_noise(tc.noise)
        # A moving average of the weights (TrainConfig.ema): what previews, the class fit and
        # the bundle are made from, while the optimiser steps the live model.
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if tc.ema else None
        self.ema_steps = 0

    @property
    def final(self) -> VAE:
        """The weights a run's outputs are made from: the moving average when one is kept."""
        return self.ema if self.ema is not None else self.model

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the average toward the live weights. Its decay ramps up as (1 + n) / (10 + n)
        to TrainConfig.ema, so the first steps do not leave it holding the random start."""
        if self.ema is None:
            return
        self.ema_steps += 1
        decay = min(self.cfg.train.ema, (1 + self.ema_steps) / (10 + self.ema_steps))
        for avg, live in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            avg.lerp_(live, 1.0 - decay)
        for avg, live in zip(self.ema.buffers(), self.model.buffers(), strict=True):
            avg.copy_(live)

    def weights_at(self, progress: float) -> dict[str, float]:
        """The loss terms' weights at this point of the run: patch-SWD off before swd_start,
        then ramped in over the critic's RAMP (0 skips the term and its cost)."""
        tc = self.cfg.train
        start = tc.adv_start if tc.swd_start is None else tc.swd_start
        if not self.weights.get("swd") or progress >= start + RAMP or start == 0:
            return self.weights
        return {**self.weights, "swd": self.weights["swd"] * max(0.0, (progress - start) / RAMP)}

    def step(
        self,
        x: torch.Tensor,
        g: torch.Generator,
        epoch: float,
        progress: float,
        labels: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """One optimiser step on a clean batch x (RGBA in [0, 1]) of images of classes labels
        (needed by sampled fakes only); returns its logged values."""
        tc = self.cfg.train
        for group in self.opt.param_groups:
            group["lr"] = lr_at(tc.lr, progress, tc.lr_schedule)
        x_in = corrupt(x, *self.noise_spec, g) if self.noise_spec else x
        noise = torch.randn(len(x), self.cfg.model.latent_dim, generator=g).to(self.device)
        adv_on = self.adversary is not None and progress >= tc.adv_start
        aug = self.adversary.draw(len(x)) if adv_on else None  # the critic's augmentations
        sampled = adv_on and (tc.sampled_fakes or 0) > 0 and labels is not None
        if sampled:  # drawn per row of the global batch, so every process's g stays in step
            draws = [
                torch.randn(len(x), self.cfg.model.latent_dim, generator=g),
                torch.rand(len(x), 2, generator=g),
            ]
        share = 1.0  # this process's share of the batch (DDP)
        if self.dist.active:  # x is the global batch: this process keeps its rows of it
            rows, share = self.dist.rows(len(x)), self.dist.share(len(x))
            x, x_in, noise = x[rows], x_in[rows], noise[rows]
            aug = aug[rows] if aug is not None else None
            labels = labels[rows] if labels is not None else None
            draws = [d[rows] for d in draws] if sampled else None
        more, n_fakes = None, 0
        if sampled:
            n_fakes = max(1, round(tc.sampled_fakes * len(x)))
            scale = tc.exemplars()
            scale = 1.0 if scale is None else scale
            normals, uniforms = (d.to(self.device) for d in draws)
            lab = labels.to(self.device)

            def more(post: DiagonalGaussian) -> torch.Tensor:
                return variant_latents(
                    post.mean, post.logvar, lab, normals, uniforms, n_fakes, scale
                )

        if self.channels_last:
            x_in = x_in.contiguous(memory_format=torch.channels_last)
        self.model.train()
        amp = torch.autocast(self.device.type, self.amp) if self.amp else contextlib.nullcontext()
        with amp:  # the loss compares with the clean x
            logits, post = self.forward(x_in, noise, more) if more else self.forward(x_in, noise)
        if self.amp:  # the losses in fp32
            logits, post = logits.float(), DiagonalGaussian(post.mean.float(), post.logvar.float())
        # With the critic, the losses see a detached copy of the logits, so balanced_backward
        # can take each back to the logits once.
        seen = logits.detach().requires_grad_() if adv_on else logits
        n = len(x)  # the reconstructions; rows after them are sampled fakes
        batch = Batch(seen[:n], x, post, g=g, palette=self.palette, alpha_margin=self.alpha_margin)
        terms = vae_loss(
            batch,
            self.recon,
            self.weights_at(progress),
            kl_weight(epoch, tc.beta, tc.warmup_epochs),
        )
        logged = terms.log()
        self.opt.zero_grad(set_to_none=True)
        if adv_on:  # the decoder is also judged on texture by the patch critic
            fake, fake_aug = batch.pred, aug
            if n_fakes:  # the sampled fakes take their source rows' augmentations
                fake = torch.cat([fake, colour(seen[n:], self.palette, self.alpha_margin)])
                fake_aug = torch.cat([aug, aug[:n_fakes]])
            ramp = min(1.0, (progress - tc.adv_start) / RAMP)
            adv = self.adversary.generator_loss(fake, fake_aug, x)
            # Under DDP the balance is struck on the whole batch's gradients, as in one process.
            reduce = (lambda t: self.dist.average(t * share)) if self.dist.active else None
            weight = self.adversary.weight * ramp
            lam = balanced_backward(
                terms.total,
                adv,
                seen,
                logits,
                self.model.decoder.last_weight,
                weight,
                [p for p in self.model.parameters() if p.requires_grad],
                reduce,
                scale=share,  # DDP averages gradients: weight each process by its rows
            )
            logged["adv_lambda"], logged["adv"] = lam, float(adv.detach()) * weight * lam
        else:
            (terms.total * share).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1000.0)
        self.opt.step()
        self.update_ema()
        if adv_on:
            logged["d_loss"] = self.adversary.update(
                x, fake, aug, share if self.dist.active else 1.0, fake_aug
            )
        return logged

    def state_dict(self) -> dict:
        # "model" is what export and the studio read; a resume also needs the live weights.
        state = {"model": self.final.state_dict(), "optimizer": self.opt.state_dict()}
        if self.ema is not None:
            state |= {"live_model": self.model.state_dict(), "ema_steps": self.ema_steps}
        return state | (self.adversary.state_dict() if self.adversary else {})

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state.get("live_model", state["model"]))
        if self.ema is not None:  # a run that kept no average starts one from its weights
            self.ema.load_state_dict(state["model"])
            self.ema_steps = int(state.get("ema_steps", 0))
        self.opt.load_state_dict(state["optimizer"])
        if self.adversary is not None:
            self.adversary.load_state_dict(state)


class Clock:
    """Training progress in [0, 1]: by epochs, or by the wall clock under a time budget
    (counting the time of the run before a resume). When several processes train, rank 0's
    clock decides (agree), so all take the same learning rate and stop after the same epoch."""

    def __init__(
        self,
        epochs: int,
        budget_s: float | None,
        elapsed_before: float,
        agree: Callable[[float], float] = float,
    ):
        self.epochs, self.budget_s, self.before = epochs, budget_s, elapsed_before
        self.agree = agree
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 + self.before

    def progress(self, epoch: float) -> float:
        frac = epoch / self.epochs
        return self.agree(max(frac, self.elapsed() / self.budget_s)) if self.budget_s else frac

    def out_of_time(self) -> bool:
        return bool(self.budget_s) and bool(self.agree(self.elapsed() >= self.budget_s))


def run_epoch(
    trainer: Trainer, x_train: Rows, data: TrainData, epoch: int, clock: Clock, progress_bar: bool
) -> dict[str, float]:
    """One pass over the training images; returns the epoch's mean logged values."""
    tc = trainer.cfg.train
    g = epoch_generator(tc.seed, epoch)
    perm = torch.randperm(len(x_train), generator=g)
    labels = data.labels[data.train_idx]  # of x_train's rows
    mirrorable = np.array(
        [tc.flip is not False and c not in tc.handed for c in data.classes], dtype=bool
    )
    steps = math.ceil(len(x_train) / tc.batch_size)
    sums: dict[str, float] = {}  # batch means, weighted by this process's share of each batch
    bar = tqdm(
        range(steps), desc=f"epoch {epoch}/{tc.epochs}", disable=not progress_bar, leave=False
    )
    for step in bar:
        idx = perm[step * tc.batch_size : (step + 1) * tc.batch_size].numpy()
        x = torch.from_numpy(x_train[idx]).to(trainer.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        if data.augment:
            x = augment(x, g, tc.shift, torch.from_numpy(mirrorable[labels[idx]]))
        e = epoch - 1 + step / steps
        y = torch.from_numpy(labels[idx]) if tc.sampled_fakes else None
        logged = trainer.step(x, g, e, clock.progress(e), y)
        weight = trainer.dist.share(len(x)) / trainer.dist.world  # 1 in one process
        for k, v in logged.items():
            sums[k] = sums.get(k, 0.0) + v * weight
        bar.set_postfix(loss=f"{logged['loss']:.0f}", kl=f"{logged.get('kl', 0.0):.1f}")
    return {k: round(v / steps, 4) for k, v in trainer.dist.sum(sums).items()}


@torch.no_grad()
def evaluate(trainer: Trainer, images: np.ndarray) -> dict[str, float]:
    """Validation loss terms (full beta), with noise from a fixed generator."""
    if len(images) == 0:
        return {}
    model, cfg, device = trainer.final.eval(), trainer.cfg, trainer.device
    g = torch.Generator().manual_seed(cfg.train.seed)
    tot = {"val_loss": 0.0, "val_recon": 0.0, "val_kl": 0.0, "val_psnr": 0.0}
    for i in range(0, len(images), EVAL_BATCH):
        x = to_tensor(images[i : i + EVAL_BATCH], device)
        noise = torch.randn(len(x), cfg.model.latent_dim, generator=g).to(device)
        logits, post = model(x, noise)
        batch = Batch(logits, x, post, palette=trainer.palette, alpha_margin=trainer.alpha_margin)
        terms = vae_loss(batch, trainer.recon, trainer.weights, cfg.train.beta)
        n = len(x)
        tot["val_loss"] += float(terms.total) * n
        tot["val_recon"] += float(terms.parts["recon"]) * n
        tot["val_kl"] += float(terms.parts["kl"]) * n
        tot["val_psnr"] += psnr_over_grey(model.decode(post.mean), x) * n
    return {k: round(v / len(images), 4) for k, v in tot.items()}


def psnr_over_grey(pred: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR (dB) of the images composited over mid-grey, as a player would see them."""
    mse = (over_grey(pred) - over_grey(target)).pow(2).mean().clamp_min(1e-10)
    return float(10 * torch.log10(1.0 / mse))


@torch.no_grad()
def write_previews(
    trainer: Trainer, data: TrainData, run: RunDir, epoch: int, last: bool = True
) -> Encoded | None:
    """Reconstructions of validation images beside their originals, and samples per class.
    Returns the training images' encodings when it encoded all of them (the final class fit
    reuses the last epoch's); mid-run sheets of a large folder are fitted on PREVIEW_FIT evenly
    spread training images (None is returned then)."""
    model, device, tc = trainer.final.eval(), trainer.device, trainer.cfg.train
    pick = data.val_idx if len(data.val_idx) else np.arange(len(data.images))
    pick = pick[np.linspace(0, len(pick) - 1, min(16, len(pick))).round().astype(int)]
    originals = data.images[pick]
    recon = to_uint8(model.decode_display(model.encode(to_tensor(originals, device)).mean))
    originals = upscale(originals, model.cfg.output_scale)
    idx = data.train_idx
    if not last and len(idx) > PREVIEW_FIT:
        idx = idx[np.linspace(0, len(idx) - 1, PREVIEW_FIT).round().astype(int)]
    enc = encode_all(model, Rows(data.images, idx), data.labels[idx], device)
    if data.frames is not None:  # every frame of every animation, for the animation model
        save_frame_latents(run, model, data.images, data.labels, data.frames, device)
    class_model = fit_class_model(
        enc.means, enc.variances, enc.labels, data.classes, 1, tc.exemplars()
    )
    write_epoch_previews(
        run.previews, epoch, originals, recon, class_model, decoder_fn(model, device)
    )
    return enc if len(idx) == len(data.train_idx) else None


def start_run(
    run: RunDir, trainer: Trainer, state: dict | None, cfg: RunConfig, log
) -> tuple[int, list]:
    """Restore a resumed run, or claim a new run directory. Returns (last epoch, metrics)."""
    writes = trainer.dist.main  # rank 0 alone writes; every process checks
    if state is None:
        if run.checkpoint.exists():
            raise ConfigError(
                f"{run.path} already holds a run; use --resume {run.path} or another --out"
            )
        if writes:
            run.path.mkdir(parents=True, exist_ok=True)
            run.write_config(cfg)
        return 0, []
    trainer.load_state_dict(state)
    epoch = state["epoch"]
    log(f"resuming after epoch {epoch} of {cfg.train.epochs}")
    if writes:
        run.clean_temporaries()
    return epoch, [m for m in run.read_metrics() if m.get("epoch", 0) <= epoch]


def train(
    cfg: RunConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train (or resume) a run in run_dir. Returns the final metrics and class latent model."""
    run = RunDir(run_dir)
    state = run.load_checkpoint() if resume else None
    cfg = state["config"] if state else cfg
    cfg.validate()
    tc = cfg.train
    device = resolve_device(tc.device)
    dist = Dist.from_env(device)  # one process, or one of torchrun's (assetvae/distributed.py)
    device = dist.device(device)
    if not dist.main:  # rank 0 alone logs and writes
        log, progress = (lambda s: None), False
    torch.manual_seed(tc.seed)

    if state is None:
        resolve_native_grid(cfg, log)
        resolve_size(cfg, log)
        resolve_exemplars(cfg, log)
        resolve_texture(cfg, log)
    with dist.rank0_first():  # rank 0 fills the image cache; the others then read it
        data = load_data(cfg, log)
    if state is None:  # decided and fitted once; a resumed run keeps its own
        resolve_palette(cfg, data, log)
        resolve_alpha(cfg, data, log)
        resolve_flip(cfg, data, log)
    if state is not None and state["dataset_fingerprint"] != data.fingerprint:
        log("warning: the data folder changed since this run started; resuming on the new data")
    log(
        f"data: {len(data.images)} images in {len(data.classes)} classes ({len(data.train_idx)} "
        f"train, {len(data.val_idx)} val) at {cfg.model.image_size} px"
        + (f" (x{cfg.model.output_scale} on export)" if cfg.model.output_scale > 1 else "")
        + f", augment={'on' if data.augment else 'off'}, device={device}"
        + (f", {dist.world} processes" if dist.active else "")
    )

    trainer = Trainer(cfg, device, dist)
    start_epoch, metrics = start_run(run, trainer, state, cfg, log)
    clock = Clock(
        tc.epochs, tc.time_budget_s, metrics[-1]["elapsed_s"] if metrics else 0.0, dist.agree
    )
    x_train = data.train_images  # uint8 on CPU, read batch by batch; batches go to the device
    saved, enc = start_epoch, None
    try:
        for epoch in range(start_epoch + 1, tc.epochs + 1):
            t_epoch = time.perf_counter()
            row = {"epoch": epoch, **run_epoch(trainer, x_train, data, epoch, clock, progress)}
            row["images_per_s"] = round(len(x_train) / (time.perf_counter() - t_epoch), 1)
            if dist.main:  # the other processes wait for rank 0 at the next collective
                row |= evaluate(trainer, Rows(data.images, data.val_idx))
            row["elapsed_s"] = round(clock.elapsed(), 1)
            metrics.append(row)
            out_of_time = clock.out_of_time()
            last = epoch == tc.epochs or out_of_time
            enc = None
            if dist.main:
                if last or (tc.preview_every > 0 and epoch % tc.preview_every == 0):
                    enc = write_previews(trainer, data, run, epoch, last)
                # Metrics first: a crash between the two leaves an extra row that resume cuts
                # back, never a checkpoint whose row is missing.
                run.write_metrics(metrics)
                run.save_checkpoint(
                    {
                        "config": cfg.to_dict(),
                        **trainer.state_dict(),
                        "epoch": epoch,
                        "classes": data.classes,
                        "dataset_fingerprint": data.fingerprint,
                        "metrics": row,
                    }
                )
            saved = epoch
            log(" ".join(f"{k}={v}" for k, v in row.items()))
            if out_of_time:
                log(f"time budget of {tc.time_budget_s:g} s reached after epoch {epoch}")
                break
    except KeyboardInterrupt:
        if saved:
            log(
                f"interrupted: the checkpoint after epoch {saved} is saved in {run.path}; "
                f"continue with: assetvae train --resume {run.path}"
            )
        else:
            log(
                f"interrupted before the first epoch ended: no checkpoint in {run.path} yet; "
                "start again"
            )
        raise

    if not dist.main:  # rank 0 fits the class model once, over all the training images
        del trainer  # DDP's reducers hold the group: release them while it is still alive
        gc.collect()
        dist.close()
        return TrainResult(
            run.path,
            saved,
            metrics[-1] if metrics else {},
            [],
            time.perf_counter() - clock.t0,
            dist.rank,
        )
    # The class latent model is fitted on the training images, encoded without augmentation.
    # The final epoch encoded them for its previews; a resume of a finished run did not.
    if enc is None:
        enc = encode_all(trainer.final, data.train_images, data.labels[data.train_idx], device)
    decode = decoder_fn(trainer.final, device)
    class_model, labels = fit_classes(
        run, enc, data.classes, tc.components, tc.exemplars(), decode, tc.discover, tc.seed
    )
    if tc.discover:
        write_style_sheets(
            upscale(np.asarray(data.train_images), cfg.model.output_scale),
            labels,
            class_model,
            decode,
            run.previews,
        )
    del trainer
    gc.collect()
    dist.close()  # where the other processes wait
    return TrainResult(
        run.path, saved, metrics[-1] if metrics else {}, class_model, time.perf_counter() - clock.t0
    )
