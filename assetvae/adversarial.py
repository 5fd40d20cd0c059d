"""The adversarial step: a small patch discriminator trained from scratch beside the VAE.

Pixel losses regress to the mean of what the decoder cannot predict, which is blur. A patch
discriminator judges local texture instead: each output logit sees a patch of about 1/4 of
the sprite and says whether it looks like real art. Only used in training; never exported.
"""

from __future__ import annotations

import torch
from torch import nn

from .losses import premultiplied


class PatchDiscriminator(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(4, w, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),
            nn.GroupNorm(8, 2 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1),
            nn.GroupNorm(8, 4 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits [N, 1, S/8, S/8] for RGBA images in [0, 1]."""
        # Premultiplied, so hidden colour under transparency is invisible to the critic too.
        return self.net(premultiplied(x) * 2 - 1)


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor, pixels: int) -> torch.Tensor:
    """Generator's adversarial loss per image, scaled by its pixel count so that the weight is
    per pixel, like the reconstruction terms (which are sums over the image)."""
    return -fake_logits.mean() * pixels


class Adversary:
    """The discriminator and its optimiser, with the two halves of an adversarial step."""

    def __init__(self, weight: float, lr: float, device: torch.device, wrap=None):
        self.weight = weight
        self.disc = PatchDiscriminator().to(device)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.9))
        # Several processes (assetvae/distributed.py): the critic is DDP-wrapped too, so its
        # gradients are averaged and every process keeps the same critic.
        self.shared = wrap is not None
        self.critic = wrap(self.disc) if self.shared else self.disc

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The weighted term the decoder adds to its loss for these fakes (RGBA in [0, 1])."""
        return self.weight * g_hinge_loss(self.critic(fake), fake.shape[2] * fake.shape[3])

    def update(self, real: torch.Tensor, fake: torch.Tensor, share: float = 1.0) -> float:
        """One discriminator step on real images and (detached) fakes; returns its loss.
        share: this process's weight when several average their gradients (DDP)."""
        if self.shared:  # one forward per backward, as DDP wants: real and fake in one batch
            logits = self.critic(torch.cat([real, fake.detach()]))
            loss = d_hinge_loss(*logits.split(len(real)))
        else:
            loss = d_hinge_loss(self.disc(real), self.disc(fake.detach()))
        self.opt.zero_grad(set_to_none=True)
        (loss * share if self.shared else loss).backward()
        self.opt.step()
        return float(loss.detach())

    def state_dict(self) -> dict:
        return {"discriminator": self.disc.state_dict(), "d_optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.disc.load_state_dict(state["discriminator"])
        self.opt.load_state_dict(state["d_optimizer"])
