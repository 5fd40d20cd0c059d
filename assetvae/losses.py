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

from .model import DiagonalGaussian


@dataclass
class Batch:
    """What a loss term may look at: the decoder's logits, the clean target, the posterior."""

    logits: torch.Tensor
    target: torch.Tensor
    post: DiagonalGaussian | None = None

    @cached_property
    def pred(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)


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
    alpha = F.binary_cross_entropy_with_logits(b.logits[:, 3], b.target[:, 3], reduction="none")
    return colour + alpha.sum(dim=(1, 2))


@recon("l1")
def l1_loss(b: Batch) -> torch.Tensor:
    """The plain baseline's: colour L1 weighted by the target's alpha, plus alpha L1."""
    a = b.target[:, 3:4]
    colour = ((b.pred[:, :3] - b.target[:, :3]).abs() * a).sum(dim=(1, 2, 3))
    return colour + (b.pred[:, 3] - b.target[:, 3]).abs().sum(dim=(1, 2))


@recon("bce-alpha")
def alpha_weighted_bce(b: Batch) -> torch.Tensor:
    """Like l1-alpha, but colour too is judged in logit space: the gradient (p - y) never
    fades as the sigmoid saturates, so fine contrast keeps being pushed after L1 stalls."""
    a = b.target[:, 3:4]
    colour = F.binary_cross_entropy_with_logits(b.logits[:, :3], b.target[:, :3], reduction="none")
    alpha = F.binary_cross_entropy_with_logits(b.logits[:, 3], b.target[:, 3], reduction="none")
    return (colour * a).sum(dim=(1, 2, 3)) + alpha.sum(dim=(1, 2))


@recon("bce")
def bce_loss(b: Batch) -> torch.Tensor:
    """The classic recipe's: BCE on all four channels, no alpha weighting."""
    return F.binary_cross_entropy_with_logits(b.logits, b.target, reduction="none").sum(
        dim=(1, 2, 3)
    )


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
