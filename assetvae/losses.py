"""Loss terms as pure functions of tensors. Images are RGBA in [0, 1], [N, 4, H, W].

Reconstruction is alpha-aware: the colour of a pixel the target shows as transparent does
not matter (real sprite sheets hide arbitrary colour there), so the colour error is weighted
by the target's alpha, and the alpha channel has its own error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def alpha_weighted_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image sum of |colour error| * target alpha + |alpha error|. Shape [N]."""
    a = target[:, 3:4]
    colour = ((pred[:, :3] - target[:, :3]).abs() * a).sum(dim=(1, 2, 3))
    alpha = (pred[:, 3] - target[:, 3]).abs().sum(dim=(1, 2))
    return colour + alpha


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
    pred: torch.Tensor, target: torch.Tensor, kl: torch.Tensor, kl_w: float, grad_weight: float
) -> LossTerms:
    """Batch mean of recon + grad_weight * gradient term + kl_w * KL. kl is per-image [N]."""
    recon = alpha_weighted_l1(pred, target).mean()
    grad = gradient_l1(pred, target).mean() if grad_weight > 0 else pred.new_zeros(())
    kl_mean = kl.mean()
    return LossTerms(total=recon + grad_weight * grad + kl_w * kl_mean, recon=recon, grad=grad, kl=kl_mean)
