"""A small patch discriminator, trained from scratch alongside the VAE (no pretrained weights).

Pixel losses regress to the mean of what the decoder cannot predict, which is blur. A patch
discriminator judges local texture instead: each output logit sees a patch of about 1/4 of
the sprite and says whether it looks like real art. Only used in training; never exported.
"""

from __future__ import annotations

import torch
from torch import nn


def _premultiplied(x: torch.Tensor) -> torch.Tensor:
    # Premultiplied, so hidden colour under transparency is invisible to the critic too.
    return torch.cat([x[:, :3] * x[:, 3:4], x[:, 3:4]], dim=1) * 2 - 1


class PatchDiscriminator(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(4, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.GroupNorm(8, 2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.GroupNorm(8, 4 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits [N, 1, S/8, S/8] for RGBA images in [0, 1]."""
        return self.net(_premultiplied(x))


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor, pixels: int) -> torch.Tensor:
    """Generator's adversarial loss per image, scaled by its pixel count so that adv_weight is
    per pixel, like the reconstruction terms (which are sums over the image)."""
    return -fake_logits.mean() * pixels
