"""Loss terms as pure functions of tensors. Images are RGBA in [0, 1], [N, 4, H, W].

Reconstruction is alpha-aware: the colour of a pixel the target shows as transparent does
not matter (real sprite sheets hide arbitrary colour there), so the colour error is weighted
by the target's alpha, and the alpha channel has its own error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def alpha_weighted_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image sum of |colour error| * target alpha + |alpha error|. Shape [N]."""
    a = target[:, 3:4]
    colour = ((pred[:, :3] - target[:, :3]).abs() * a).sum(dim=(1, 2, 3))
    alpha = (pred[:, 3] - target[:, 3]).abs().sum(dim=(1, 2))
    return colour + alpha


def recon_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image reconstruction loss from decoder logits. Shape [N].

    Colour: L1 weighted by the target's alpha (L1 keeps edges sharper than squared error).
    Alpha: binary cross-entropy on the logit. L1 on alpha has a trap: where most images are
    transparent at a pixel, its optimum is "always transparent", and once the sigmoid
    saturates there its gradient vanishes and the decoder goes blank. Cross-entropy's
    optimum is the mean coverage and its gradient in logit space never vanishes.
    """
    a = target[:, 3:4]
    colour = ((torch.sigmoid(logits[:, :3]) - target[:, :3]).abs() * a).sum(dim=(1, 2, 3))
    alpha = F.binary_cross_entropy_with_logits(logits[:, 3], target[:, 3], reduction="none").sum(dim=(1, 2))
    return colour + alpha


def alpha_weighted_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image: colour BCE weighted by the target's alpha, plus alpha BCE. Shape [N].

    Like recon_loss, but colour too is judged in logit space: the gradient (p - y) never
    fades as the sigmoid saturates, so fine contrast keeps being pushed after L1 stalls.
    """
    a = target[:, 3:4]
    colour = (F.binary_cross_entropy_with_logits(logits[:, :3], target[:, :3], reduction="none") * a).sum(dim=(1, 2, 3))
    alpha = F.binary_cross_entropy_with_logits(logits[:, 3], target[:, 3], reduction="none").sum(dim=(1, 2))
    return colour + alpha


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The classic recipe's per-image loss: BCE on all four channels, no alpha weighting. [N]"""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=(1, 2, 3))


RECON = {"l1-alpha": recon_loss, "bce-alpha": alpha_weighted_bce, "bce": bce_loss}


def _premultiplied(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[:, :3] * x[:, 3:4], x[:, 3:4]], dim=1)


def gradient_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image sum of |d pred - d target| over horizontal and vertical differences.

    Computed on premultiplied colour, so hidden colour under transparency cannot matter and
    silhouette edges count. A blurred reconstruction loses its edges and pays here even where
    the per-pixel L1 is already small.
    """
    p, t = _premultiplied(pred), _premultiplied(target)
    dx = (p[..., :, 1:] - p[..., :, :-1]) - (t[..., :, 1:] - t[..., :, :-1])
    dy = (p[..., 1:, :] - p[..., :-1, :]) - (t[..., 1:, :] - t[..., :-1, :])
    return dx.abs().sum(dim=(1, 2, 3)) + dy.abs().sum(dim=(1, 2, 3))


def kl_weight(epoch: float, beta: float, warmup_epochs: int) -> float:
    """Linear KL warm-up: 0 at the start, beta after warmup_epochs (epoch may be fractional)."""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, max(0.0, epoch / warmup_epochs))


@dataclass
class LossTerms:
    total: torch.Tensor  # scalar, what is minimised
    recon: torch.Tensor  # scalar, mean per image
    grad: torch.Tensor
    kl: torch.Tensor


def vae_loss(
    logits: torch.Tensor, target: torch.Tensor, kl: torch.Tensor, kl_w: float, grad_weight: float,
    recon: str = "l1-alpha",
) -> LossTerms:
    """Batch mean of recon + grad_weight * gradient term + kl_w * KL. kl is per-image [N]."""
    recon = RECON[recon](logits, target).mean()
    grad = gradient_l1(torch.sigmoid(logits), target).mean() if grad_weight > 0 else logits.new_zeros(())
    kl_mean = kl.mean()
    return LossTerms(total=recon + grad_weight * grad + kl_w * kl_mean, recon=recon, grad=grad, kl=kl_mean)
