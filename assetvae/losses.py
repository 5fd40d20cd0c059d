"""Loss terms as pure functions of tensors, and the one registry of them.

Images are RGBA in [0, 1], [N, 4, H, W]. Every term returns a per-image value [N], summed
over the image, so weights compare across terms and image sizes.

A new loss term is one function here with the ``@term(...)`` decorator: its weight lives in
``TrainConfig.loss_weights[name]`` (default below), the CLI option ``--NAME-weight`` and the
metrics column ``NAME`` are derived from the registry. Reconstruction losses (one is chosen
by ``TrainConfig.recon``) are registered in ``RECON`` the same way.

Reconstruction is alpha-aware: the colour of a pixel the target shows as transparent does
not matter (real sprite sheets hide arbitrary colour there), so the colour error is weighted
by the target's alpha, and the alpha channel has its own error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import torch
import torch.nn.functional as F

from .model import DiagonalGaussian, alpha_target, open_alpha


@dataclass
class Batch:
    """What a loss term may look at: the decoder's logits, the clean target, the posterior."""

    logits: torch.Tensor
    target: torch.Tensor
    post: DiagonalGaussian | None = None
    g: torch.Generator | None = None  # random draws of a term (projections): the step's own
    # A palette decoder's entries (assetvae/palette.py): logits are then over the palette.
    palette: torch.Tensor | None = None
    alpha_margin: float = 0.0  # an RGBA decoder's (model.open_alpha)

    @cached_property
    def pred(self) -> torch.Tensor:
        """RGBA in [0, 1], as the decoder's colour head makes it."""
        if self.palette is not None:  # the palette loss's bounded logits, not a second tanh
            from .palette import pick

            return pick(self.bounded, self.palette)
        return colour(self.logits, self.palette, self.alpha_margin)

    @cached_property
    def bounded(self) -> torch.Tensor:
        """A palette decoder's bounded logits (palette.bounded_logits)."""
        from .palette import bounded_logits

        return bounded_logits(self.logits)


def colour(
    logits: torch.Tensor, palette: torch.Tensor | None = None, alpha_margin: float = 0.0
) -> torch.Tensor:
    """A training decoder's logits -> RGBA in [0, 1]: sigmoid and open alpha, or the soft
    pick from the palette."""
    if palette is None:
        return open_alpha(torch.sigmoid(logits), alpha_margin)
    from .palette import soft_pick

    return soft_pick(logits, palette)


@dataclass(frozen=True)
class Term:
    name: str
    default: float  # weight when the config does not set one
    help: str
    fn: Callable[[Batch], torch.Tensor] = field(repr=False)


TERMS: dict[str, Term] = {}
RECON: dict[str, Callable[[Batch], torch.Tensor]] = {}


def term(name: str, default: float, help: str):
    """Register a weighted loss term (see the module docstring)."""

    def register(fn: Callable[[Batch], torch.Tensor]):
        TERMS[name] = Term(name, default, help, fn)
        return fn

    return register


def recon(name: str):
    """Register a reconstruction loss, chosen by TrainConfig.recon."""

    def register(fn: Callable[[Batch], torch.Tensor]):
        RECON[name] = fn
        return fn

    return register


# --- reconstruction -------------------------------------------------------------------------


@recon("l1-alpha")
def recon_loss(b: Batch) -> torch.Tensor:
    """Colour: L1 weighted by the target's alpha (L1 keeps edges sharper than squared error).
    Alpha: binary cross-entropy on the logit. L1 on alpha has a trap: where most images are
    transparent at a pixel, its optimum is "always transparent", and once the sigmoid
    saturates there its gradient vanishes and the decoder goes blank. Cross-entropy's
    optimum is the mean coverage and its gradient in logit space never vanishes.
    """
    a = b.target[:, 3:4]
    colour = ((b.pred[:, :3] - b.target[:, :3]).abs() * a).sum(dim=(1, 2, 3))
    return colour + _alpha_bce(b).sum(dim=(1, 2))


def _alpha_bce(b: Batch) -> torch.Tensor:
    """Cross-entropy of the alpha logit against the target as open_alpha sees it, [N, H, W]."""
    target = alpha_target(b.target[:, 3], b.alpha_margin)
    return F.binary_cross_entropy_with_logits(b.logits[:, 3], target, reduction="none")


@recon("l1")
def l1_loss(b: Batch) -> torch.Tensor:
    """The plain baseline's: colour L1 weighted by the target's alpha, plus alpha L1."""
    a = b.target[:, 3:4]
    colour = ((b.pred[:, :3] - b.target[:, :3]).abs() * a).sum(dim=(1, 2, 3))
    # On the sigmoid, against what open_alpha turns into the target: clipped pixels still get
    # a gradient, and a transparent or solid pixel is pushed past the clip, not left hovering
    # at its edge (an L1 minimum right at the clip leaves half the background at alpha 1/255).
    m = b.alpha_margin
    alpha = torch.sigmoid(b.logits[:, 3]) - alpha_target(b.target[:, 3], m)
    return colour + (1 + 2 * m) * alpha.abs().sum(dim=(1, 2))


@recon("bce-alpha")
def alpha_weighted_bce(b: Batch) -> torch.Tensor:
    """Like l1-alpha, but colour too is judged in logit space: the gradient (p - y) never
    fades as the sigmoid saturates, so fine contrast keeps being pushed after L1 stalls."""
    a = b.target[:, 3:4]
    colour = F.binary_cross_entropy_with_logits(b.logits[:, :3], b.target[:, :3], reduction="none")
    return (colour * a).sum(dim=(1, 2, 3)) + _alpha_bce(b).sum(dim=(1, 2))


@recon("bce")
def bce_loss(b: Batch) -> torch.Tensor:
    """The classic recipe's: BCE on all four channels, no alpha weighting."""
    return F.binary_cross_entropy_with_logits(b.logits, b.target, reduction="none").sum(
        dim=(1, 2, 3)
    )


@recon("palette")
def palette_loss(b: Batch) -> torch.Tensor:
    """A palette decoder's (chosen automatically with one): per pixel, cross-entropy between
    its bounded logits and the palette entry nearest the target pixel."""
    from .palette import nearest_index

    target = nearest_index(b.target, b.palette)
    ce = F.cross_entropy(b.bounded, target, reduction="none")
    return ce.sum(dim=(1, 2))


def recon_name(model_palette, recon: str) -> str:
    """The reconstruction loss a run trains with: a palette decoder's own, else the config's."""
    return "palette" if model_palette else recon


# --- extra terms ----------------------------------------------------------------------------


def premultiplied(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[:, :3] * x[:, 3:4], x[:, 3:4]], dim=1)


def over_grey(x: torch.Tensor) -> torch.Tensor:
    """RGB composited over mid-grey, as a player sees a sprite on a neutral background."""
    return x[:, :3] * x[:, 3:4] + 0.5 * (1 - x[:, 3:4])


def _gradient_l1(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    dx = (p[..., :, 1:] - p[..., :, :-1]) - (t[..., :, 1:] - t[..., :, :-1])
    dy = (p[..., 1:, :] - p[..., :-1, :]) - (t[..., 1:, :] - t[..., :-1, :])
    return dx.abs().sum(dim=(1, 2, 3)) + dy.abs().sum(dim=(1, 2, 3))


def gradient_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image sum of |d pred - d target| over horizontal and vertical differences.

    Computed on premultiplied colour, so hidden colour under transparency cannot matter and
    silhouette edges count. A blurred reconstruction loses its edges and pays here even where
    the per-pixel L1 is already small.
    """
    return _gradient_l1(premultiplied(pred), premultiplied(target))


@term("grad", 0.0, "Weight of the edge loss: image-gradient L1 on premultiplied RGBA.")
def grad_term(b: Batch) -> torch.Tensor:
    return gradient_l1(b.pred, b.target)


@term("grad-grey", 1.0, "Weight of the image-gradient L1 of the grey composite.")
def grad_grey_term(b: Batch) -> torch.Tensor:
    grey = over_grey(b.pred).mean(dim=1, keepdim=True)
    return _gradient_l1(grey, over_grey(b.target).mean(dim=1, keepdim=True))


@term(
    "ffl",
    0.0,
    "Weight of the focal frequency loss (Jiang et al. 2021): spectrum errors, "
    "the hardest frequencies weighted most.",
)
def focal_frequency_term(b: Batch, alpha: float = 1.0) -> torch.Tensor:
    """Per image: mean over frequencies of w * |F(pred) - F(target)|^2 on premultiplied RGBA,
    w = the error's own magnitude^alpha normalised to [0, 1] per image (not differentiated),
    times the pixel count so its scale matches the summed pixel losses. Pixel losses let the
    decoder skip the high frequencies it finds hard; this term weights exactly those."""
    p = torch.fft.fft2(premultiplied(b.pred), norm="ortho")
    t = torch.fft.fft2(premultiplied(b.target), norm="ortho")
    dist = (p - t).abs().pow(2)
    w = dist.detach().sqrt().pow(alpha)
    w = w / w.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None, None]
    return (w * dist).mean(dim=(1, 2, 3)) * b.pred.shape[-1] * b.pred.shape[-2]


# --- distribution terms -----------------------------------------------------------------------

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable 5-tap binomial blur, reflecting at the borders. Shifted slices summed: on CPU
    15x faster forward and backward than a depthwise convolution."""
    h, w = x.shape[-2:]
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = sum(k / 16.0 * x[..., i : i + w] for i, k in enumerate(_BINOMIAL))
    return sum(k / 16.0 * x[..., i : i + h, :] for i, k in enumerate(_BINOMIAL))


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from full size down, then the low-pass residual at min_size (the same
    pyramid benchmarks/quality_metrics.py measures realism on)."""
    levels = []
    while x.shape[-1] > min_size and x.shape[-1] % 2 == 0:
        down = _blur(x)[..., ::2, ::2]
        up = torch.zeros_like(x)
        up[..., ::2, ::2] = 4.0 * down  # a quarter of the taps are non-zero: DC gain 1
        levels.append(x - _blur(up))
        x = down
    levels.append(x)
    return levels


def sliced_wasserstein(
    fake: torch.Tensor, real: torch.Tensor, dirs: int, patch: int, g: torch.Generator | None
) -> torch.Tensor:
    """Per image pair, the sliced Wasserstein-1 distance between the patch x patch
    neighbourhoods of fake[i] and of real[i], over `dirs` random unit directions; [N].
    Projecting the patches on a direction is a convolution with it as a filter; the patches
    are taken on a grid of stride size/16 at a random offset (about 200 per image at every
    level), both normalised by the real batch's per-channel spread."""
    c, size = real.shape[1], real.shape[-1]
    stride = max(1, size // 16)
    oy, ox = torch.randint(0, stride, (2,), generator=g).tolist()
    scale = real.detach().std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    w = torch.randn(dirs, c * patch * patch, generator=g)
    w = (w / w.norm(dim=1, keepdim=True)).view(dirs, c, patch, patch).to(real)

    def project(x: torch.Tensor) -> torch.Tensor:  # [N, dirs, positions], sorted
        x = (x / scale)[..., oy:, ox:]
        return F.conv2d(x, w, stride=stride).flatten(2).sort(dim=2).values

    return (project(fake) - project(real)).abs().mean(dim=(1, 2))


def _swd_view(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([over_grey(x), x[:, 3:4]], dim=1)


@term(
    "swd",
    0.0,
    "Weight of the patch-distribution loss: per image, the sliced Wasserstein distance between "
    "the 5x5 patches of the reconstruction and of its target, per Laplacian level. Pixel "
    "losses pay for texture the decoder cannot place exactly, so it leaves it out; this pays "
    "for texture that is missing wherever it would go.",
)
def swd_term(b: Batch, dirs: int = 32, patch: int = 5) -> torch.Tensor:
    fake, real = b.pred, b.target
    levels = zip(laplacian_pyramid(_swd_view(fake)), laplacian_pyramid(_swd_view(real)))
    total = sum(sliced_wasserstein(f, r, dirs, patch, b.g) for f, r in levels)
    return total * fake.shape[-1] * fake.shape[-2]  # at the scale of a per-pixel sum


@term(
    "alpha-levels",
    0.0,
    "Weight of the alpha-level loss: per image, the 1-D Wasserstein distance between the "
    "reconstruction's alpha values and its target's, both sorted. Pixel losses send faint "
    "glows and part-covered edge pixels to 0 or 1 wherever their place is uncertain; this "
    "pays for their missing share wherever they would go.",
)
def alpha_levels_term(b: Batch) -> torch.Tensor:
    """Sum over the sorted pixels of |pred - target| alpha: zero for any rearrangement of the
    target's pixels, so it judges how much of each alpha level an image has, not where. For
    an RGBA decoder on the sigmoid against what open_alpha turns into the target, like the
    l1 loss: a pixel clipped to 0 still gets the gradient that grows a faint fringe."""
    if b.palette is None:
        pred = torch.sigmoid(b.logits[:, 3])
        target = alpha_target(b.target[:, 3], b.alpha_margin)
    else:
        pred, target = b.pred[:, 3], b.target[:, 3]
    p, t = (x.flatten(1).sort(dim=1).values for x in (pred, target))
    return (p - t).abs().sum(dim=1)


@term(
    "alpha-edges",
    0.0,
    "Weight of the extra alpha loss on soft-edge pixels: L1 of the alpha where the target is "
    "strictly between transparent and solid (antialiased edges, glows, drop shadows). A "
    "decoder lays out hard silhouettes first and their soft edges late; this pays for the "
    "few pixels that carry them from the start.",
)
def alpha_edges_term(b: Batch) -> torch.Tensor:
    """Sum over the target's part-covered pixels of |alpha error|, judged like the l1 loss
    (on the sigmoid, against what open_alpha turns into the target)."""
    a = b.target[:, 3]
    soft = ((a > 0) & (a < 1)).to(a.dtype)
    if b.palette is None:
        err = torch.sigmoid(b.logits[:, 3]) - alpha_target(a, b.alpha_margin)
    else:
        err = b.pred[:, 3] - a
    return (err.abs() * soft).sum(dim=(1, 2))


# --- the total ------------------------------------------------------------------------------


def kl_weight(epoch: float, beta: float, warmup_epochs: int) -> float:
    """Linear KL warm-up: 0 at the start, beta after warmup_epochs (epoch may be fractional)."""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, max(0.0, epoch / warmup_epochs))


@dataclass
class LossTerms:
    total: torch.Tensor  # scalar, what is minimised
    parts: dict[str, torch.Tensor]  # batch means: "recon", "kl" and each weighted term

    def log(self) -> dict[str, float]:
        return {
            "loss": float(self.total.detach()),
            **{k: float(v.detach()) for k, v in self.parts.items()},
        }


def vae_loss(b: Batch, recon_name: str, weights: dict[str, float], kl_w: float) -> LossTerms:
    """Batch mean of recon + sum of weight * term + kl_w * KL. Terms weighted 0 are skipped."""
    parts = {"recon": RECON[recon_name](b).mean()}
    total = parts["recon"]
    for name, w in weights.items():
        if w > 0:
            parts[name] = TERMS[name].fn(b).mean()
            total = total + w * parts[name]
    if b.post is not None:
        parts["kl"] = b.post.kl().mean()
        total = total + kl_w * parts["kl"]
    return LossTerms(total, parts)
