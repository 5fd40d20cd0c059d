"""Run configuration: plain dataclasses that round-trip through JSON.

The whole config is saved in every checkpoint and bundle so a run can be rebuilt from its
file alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

ALLOWED_SIZES = (16, 32, 64, 128)
OPTIMIZERS = ("adam", "rmsprop")
LR_SCHEDULES = ("cosine", "constant")
AMP_MODES = ("auto", "bf16", "off")
# Colours of the palette pixel art gets by default: 128 measured nearer the art than 64 on
# the two-sample test at two seeds, at 0.6x the bundle's variants a second (README, issue 14).
AUTO_PALETTE = 128
# The texture levers painted art gets by default (train.resolve_texture; README, issue 14):
# patch-SWD and critic weights and texture-noise levels, from this image size up.
PAINTED_SWD = 0.15
PAINTED_ADV = 0.25
PAINTED_NOISE = 3
PAINTED_FAKES = 0.5  # sampled fakes beside the reconstructions (TrainConfig.sampled_fakes)
PAINTED_MIN_SIZE = 64
# The model's size where the user left it open (train.resolve_size): pixel art on its native
# grid gets a 64-d latent at width 64 (two-sample 0.81-0.82 against 0.85-0.86 at three seeds,
# each pair in one 10-minute run; README, issue 14), anything else 32 and 32.
DEFAULT_LATENT = 32
DEFAULT_WIDTH = 32
PIXEL_LATENT = 64
PIXEL_WIDTH = 64
# How far variants move from the training image they vary, as a fraction of the class factor,
# where the user left it open (train.resolve_exemplars): pixel art on its native grid 0.25
# (two-sample 0.77, 0.79 and 0.80 against 0.80, 0.87 and 0.85 at three seeds; README, issue
# 14), anything else 0.5. AUTO is the undecided value: None already means "no exemplars".
AUTO = "auto"
DEFAULT_EXEMPLAR_SCALE = 0.5
PIXEL_EXEMPLAR_SCALE = 0.25
# How far the alpha's sigmoid is stretched past [0, 1] either side before clipping
# (model.open_alpha): exact 0 and 1 become reachable, so sprites have no faint halo and
# solid interiors are solid (README, issue 14).
ALPHA_MARGIN = 0.05
# Art whose visible pixels are more than this share faint halo or not-quite-solid edge (alpha
# within HAZE_LEVELS/255 of 0 or 1, not at it: stamps resampled from larger art) keeps the
# plain sigmoid's alpha, which can draw that haze; open alpha clips it away, and the
# two-sample test saw it (README, issue 14).
ALPHA_HAZE = 0.08
HAZE_LEVELS = 8


def _number_in(value: Any, low: float, top: float, top_open: bool = False) -> bool:
    """A number (not a string a hand-edited config.json may hold) in [low, top], or
    [low, top) with top_open."""
    if not isinstance(value, (int, float)):
        return False
    return low <= value < top if top_open else low <= value <= top


@dataclass
class ModelConfig:
    image_size: int = 64
    # None: decided from the data when training (train.resolve_size) and replaced by the
    # decision; a model built from an undecided config uses DEFAULT_LATENT and DEFAULT_WIDTH.
    latent_dim: int | None = None
    width: int | None = None  # channels at full resolution; doubles per halving (max_width)
    max_width: int = 128
    decoder_norm: bool = False  # batch norm in the decoder (folded into the convs at export)
    # "plain" (GroupNorm + SiLU, issue 14's baseline network: measured best per CPU minute) or
    # "conv" (LeakyReLU, no norm; the network of bundles before 0.2)
    arch: str = "plain"
    # Trained on a native pixel grid of image_size, exported upscaled by nearest x output_scale.
    output_scale: int = 1
    # RGBA in [0, 1] per entry: the decoder picks one per pixel (assetvae/palette.py); None:
    # it outputs RGBA. Fitted to the data by TrainConfig.palette.
    palette: list[list[float]] | None = None
    # Per-pixel noise made from the latent at the top N levels of the plain decoder
    # (model.TextureNoise; issue 14's texture lever): 0 is off; None decides from the data
    # (train.resolve_texture) and is replaced by the decision.
    texture_noise: int | None = None
    # The alpha is clip((1 + 2m) * sigmoid - m, 0, 1) with m = alpha_margin (model.open_alpha);
    # 0 is the plain sigmoid, which never reaches 0 or 1. Not used by a palette decoder.
    # None: decided from the data when training (train.resolve_alpha) and replaced by the
    # decision; a model built from an undecided config uses ALPHA_MARGIN.
    alpha_margin: float | None = None
    # Kernel of the decoder's last convolution, to RGBA or to one logit per palette entry: 3
    # (every saved run's), or 1, which costs K/9 of it where a palette has K entries.
    head_kernel: int = 3

    def validate(self) -> None:
        from .model import ARCHITECTURES  # lazily: validation runs where torch is loaded anyway

        if self.arch not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture {self.arch!r}: use one of {', '.join(ARCHITECTURES)}"
            )
        if self.image_size not in ALLOWED_SIZES:
            raise ConfigError(
                f"image size {self.image_size} is not supported: use one of "
                + ", ".join(map(str, ALLOWED_SIZES))
            )
        if self.output_scale not in (1, 2, 4, 8):
            raise ConfigError(
                f"output scale {self.output_scale} is not supported: use 1, 2, 4 or 8"
            )
        if self.head_kernel not in (1, 3):
            raise ConfigError(f"--head-kernel {self.head_kernel!r} is not supported: use 1 or 3")
        if self.latent_dim is not None and not 2 <= self.latent_dim <= 512:
            raise ConfigError(f"latent size {self.latent_dim} is out of range: use 2 to 512")
        if self.palette is not None and not (
            2 <= len(self.palette) <= 256 and all(len(c) == 4 for c in self.palette)
        ):
            raise ConfigError("a palette needs 2 to 256 RGBA entries")
        if self.texture_noise and (self.arch != "plain" or not 0 < self.texture_noise <= 4):
            raise ConfigError(
                "texture noise needs the plain architecture and 1 to 4 levels "
                f"(got arch {self.arch!r}, {self.texture_noise} levels)"
            )
        if self.alpha_margin is not None and not 0 <= self.alpha_margin <= 0.25:
            raise ConfigError(f"alpha margin {self.alpha_margin} is out of range: use 0 to 0.25")
        if self.width is not None and (not 4 <= self.width <= 512 or self.max_width < self.width):
            raise ConfigError(
                f"width {self.width} (max {self.max_width}) is out of range: use 4 to 512"
            )

    def settled(self) -> ModelConfig:
        """This config with the size the user left open at its defaults: what a model is
        built from when no decision from the data was made (train.resolve_size makes one)."""
        return dataclasses.replace(
            self,
            latent_dim=DEFAULT_LATENT if self.latent_dim is None else self.latent_dim,
            width=DEFAULT_WIDTH if self.width is None else self.width,
        )


@dataclass
class TrainConfig:
    epochs: int = 40
    # The defaults are the recipe that measured best at a fixed CPU budget (README, issue 14):
    # a plain GroupNorm network, L1 losses, constant Adam, and exemplar sampling.
    batch_size: int = 32
    lr: float = 2e-3
    beta: float = (
        0.5  # KL weight (nats) against the per-pixel L1 reconstruction summed over the image
    )
    warmup_epochs: int = 0  # linear KL warm-up from 0 to beta
    # Weights of the registered loss terms (assetvae/losses.py TERMS); a missing name takes
    # the term's default weight, 0 turns a term off.
    loss_weights: dict[str, float] = field(default_factory=dict)
    lr_schedule: str = "constant"  # "constant" or "cosine" (to a tenth)
    # Keep an exponential moving average of the weights, decayed by this much per step, and
    # make previews, the class fit and the bundle from it (0: off; Trainer.update_ema).
    ema: float = 0.0
    shift: int | None = None  # augmentation shift in px; None: image size / 16
    seed: int = 0
    device: str = "auto"
    val_fraction: float = 0.1
    augment: bool | None = None  # None: on for small sets (< 2000 images)
    # Mirror half of each batch when augmenting. Art drawn one way round (swords leaning
    # right) would learn a mirrored twin it never had. None: decided from the data, class by
    # class (assetvae/mirror.py): recorded as True with the classes left unmirrored in handed.
    flip: bool | None = None
    handed: list[str] = field(default_factory=list)
    pixel_art: bool | None = None  # None: nearest-neighbour only when upscaling
    crop: bool = True  # crop each sprite to its opaque bounding box before fitting
    # Train pixel art on its native grid (datasets/grid.py): None decides from the data
    # (and is replaced by the decision), True forces it, False trains at the image size.
    native_grid: bool | None = None
    preview_every: int = (
        5  # every epoch would cost more than a short run can spare; the last is always written
    )
    recon: str = (
        "l1"  # assetvae/losses.py RECON: l1, l1-alpha (BCE alpha), bce-alpha, bce (classic)
    )
    optimizer: str = "adam"  # "adam" or "rmsprop" (the classic recipe)
    # Decoupled weight decay on the conv and linear weights (AdamW; 0: plain Adam). Aimed at
    # a decoder that memorises a small set: off by default (README, quality section).
    weight_decay: float = 0.0
    time_budget_s: float | None = (
        None  # stop after the epoch in which this many seconds have passed
    )
    components: int | None = None  # sub-clusters per class: None chooses per class, 1 disables
    # Sample around each training image's latent, varied by this fraction of the class factor;
    # None: the class Gaussian (or its sub-clusters). Measured best on small folders (README).
    # AUTO: decided from the data (train.resolve_exemplars) and replaced by the decision.
    exemplar_scale: float | str | None = AUTO
    # Patch-discriminator loss weight, relative to the reconstruction gradient at the decoder's
    # last layer (assetvae/adversarial.py); 0 disables; None decides from the data
    # (train.resolve_texture) and is replaced by the decision.
    adv_weight: float | None = None
    # Fit a palette of this many colours (transparent included) to the training images and
    # train the decoder to pick from it (assetvae/palette.py); 0: RGBA output; None: a palette
    # of AUTO_PALETTE colours for pixel art trained on its native grid, else RGBA (the decision
    # replaces None in the run's config).
    palette: int | None = None
    adv_start: float = (
        0.3  # fraction of the run (epochs or time budget) before the discriminator joins in
    )
    # Fakes for the critic decoded from latents drawn as variants are (around each image's
    # latent, with its class's spread; adversarial.variant_latents), this share of the batch
    # beside the reconstructions: variants, not reconstructions, are what ships. 0: off; None
    # decides from the data (train.resolve_texture) and is replaced by the decision.
    sampled_fakes: float | None = None
    # LeCam regularisation of the critic (adversarial.lecam_term), this weight; 0: off.
    lecam_weight: float = 0.0
    # Feature matching: the critic's hidden activations on each reconstruction pulled toward
    # those on its target (adversarial.feature_match_term), this weight beside the critic's
    # hinge loss within the adversarial term; 0: off.
    feature_match: float = 0.0
    # Fraction of the run before the patch-SWD term joins in (ramped like the critic): the
    # pixel losses lay out the shapes first. None: with the critic, at adv_start.
    swd_start: float | None = None
    discover: int | None = None  # cluster the images into this many styles instead of using folders
    noise: str | None = (
        None  # denoising: "salt-pepper:0.1" or "gaussian:0.1" corrupts encoder inputs
    )
    # Speed levers (Trainer in assetvae/train.py). amp: "auto" runs the forward pass in bf16
    # autocast where bf16 is native and pays (a CPU with AVX512-BF16 or AMX; a CUDA GPU that
    # has it, from batch 256 up) and in fp32 elsewhere; "bf16" everywhere; "off" never.
    # channels_last: None is on with bf16 on a CPU. compile: torch.compile the training
    # forward (slow first steps).
    amp: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    # Sprite sheets (datasets/sheets.py): cut plain images into WxH frames ("32x32"), find grids
    # between transparent gutters ("auto"), or leave them whole (None). Data files beside
    # images (TexturePacker, Aseprite, .sprite, atlas.txt) are read whatever this says.
    grid: str | None = None
    grid_margin: int = 0
    grid_spacing: int = 0

    def validate(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        if self.beta < 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warm-up epochs must be >= 0, got {self.warmup_epochs}")
        if not 0 <= self.val_fraction < 0.9:
            raise ConfigError(
                f"validation fraction {self.val_fraction} is out of range: use 0 to 0.9"
            )
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise ConfigError(f"unknown device {self.device!r}: use auto, cpu, cuda or mps")
        from .losses import RECON, TERMS  # lazily: validation runs where torch is loaded anyway

        choices = [n for n in RECON if n != "palette"]  # that one comes with --palette N
        if self.recon not in choices:
            raise ConfigError(
                f"unknown reconstruction loss {self.recon!r}: use one of {', '.join(choices)}"
            )
        for name, w in self.loss_weights.items():
            if name not in TERMS:
                raise ConfigError(f"unknown loss term {name!r}: use one of {', '.join(TERMS)}")
            if not (isinstance(w, (int, float)) and w >= 0):
                raise ConfigError(f"loss weight {name}={w!r} must be a number >= 0")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"unknown learning-rate schedule {self.lr_schedule!r}: use one of "
                + ", ".join(LR_SCHEDULES)
            )
        if not _number_in(self.ema, 0, 1, top_open=True):
            raise ConfigError(f"--ema {self.ema!r} is out of range: use 0 (off) to below 1")
        for flag, value, top, undecided_ok in (
            ("--sampled-fakes", self.sampled_fakes, 1, True),  # None: decided from the data
            ("--lecam-weight", self.lecam_weight, 10, False),
            ("--feature-match", self.feature_match, 100, False),
            ("--weight-decay", self.weight_decay, 1, False),
        ):
            if not (value is None and undecided_ok) and not _number_in(value, 0, top):
                raise ConfigError(f"{flag} {value!r} is out of range: use 0 (off) to {top}")
        if self.shift is not None and not 0 <= self.shift <= 64:
            raise ConfigError(f"augmentation shift {self.shift} is out of range: use 0 to 64 px")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}"
            )
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ConfigError(f"time budget must be positive seconds, got {self.time_budget_s}")
        if self.components is not None and not 1 <= self.components <= 16:
            raise ConfigError(f"components {self.components} is out of range: use 1 to 16, or auto")
        if self.exemplar_scale not in (None, AUTO) and not _number_in(self.exemplar_scale, 0, 2):
            raise ConfigError(
                f"--exemplars {self.exemplar_scale!r} is out of range: use 0 to 2, off or auto"
            )
        if self.swd_start is not None and not 0 <= self.swd_start < 1:
            raise ConfigError("--swd-start must be a fraction in [0, 1)")
        if (self.adv_weight or 0) < 0 or not 0 <= self.adv_start < 1:
            raise ConfigError("adversarial weight must be >= 0 and its start a fraction in [0, 1)")
        if self.palette is not None and not (self.palette == 0 or 2 <= self.palette <= 256):
            raise ConfigError(
                f"--palette {self.palette} is out of range: use 2 to 256 colours, or 0 for none"
            )
        if self.amp not in AMP_MODES:
            raise ConfigError(f"unknown --amp {self.amp!r}: use one of {', '.join(AMP_MODES)}")
        if self.discover is not None and not 2 <= self.discover <= 64:
            raise ConfigError(f"--discover {self.discover} is out of range: use 2 to 64 styles")
        from .corruption import parse_noise

        parse_noise(self.noise)
        from .datasets.sheets import parse_grid

        parse_grid(self.grid)
        if not (0 <= self.grid_margin <= 4096 and 0 <= self.grid_spacing <= 4096):
            raise ConfigError("--grid-margin and --grid-spacing must be 0 to 4096 px")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed {self.seed} is out of range: use 0 to 2**63-1")

    def exemplars(self) -> float | None:
        """The exemplar scale variants are sampled with: this config's, or while it is still
        undecided (AUTO), the one the data would get (train.resolve_exemplars)."""
        if self.exemplar_scale != AUTO:
            return self.exemplar_scale
        return PIXEL_EXEMPLAR_SCALE if self.native_grid else DEFAULT_EXEMPLAR_SCALE

    def weight(self, term: str) -> float:
        """The weight of loss term `term`: this config's, else the term's default."""
        from .losses import TERMS

        return float(self.loss_weights.get(term, TERMS[term].default))


@dataclass
class RunConfig:
    data: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        # Unknown keys (from a newer version) are dropped rather than refused.
        def pick(dc, values):
            names = {f.name for f in dataclasses.fields(dc)}
            return dc(**{k: v for k, v in (values or {}).items() if k in names})

        model, train = dict(d.get("model") or {}), dict(d.get("train") or {})
        # Saved before the data decided them: those runs trained without the texture levers.
        model.setdefault("texture_noise", 0)
        model.setdefault("alpha_margin", 0.0)  # ... and with the plain sigmoid's alpha
        train.setdefault("adv_weight", 0.0)
        train.setdefault("swd_start", 0.0)
        train.setdefault("sampled_fakes", 0.0)
        train.setdefault("flip", True)  # ... and flipped every set they augmented
        if "grad_weight" in train:  # checkpoint v1 named the one extra term's weight on its own
            train.setdefault("loss_weights", {})["grad"] = train.pop("grad_weight")
        return cls(
            data=d.get("data", ""),
            model=pick(ModelConfig, model),
            train=pick(TrainConfig, train),
        )
