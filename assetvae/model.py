"""The convolutional VAE for RGBA sprites: encoder, decoder, and the posterior object.

The decoder uses nearest-neighbour upsampling followed by a 3x3 convolution rather than
transposed convolutions: it avoids checkerboard artefacts, and exports to plain ONNX ops
(Resize-nearest, Conv, LeakyRelu) that every engine runtime supports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig

BOTTOM = 4  # spatial size of the decoder's first feature map


def _widths(cfg: ModelConfig) -> list[int]:
    """Channel count at each resolution, from full size down to BOTTOM."""
    levels = int(math.log2(cfg.image_size // BOTTOM))
    return [min(cfg.width * 2**i, cfg.max_width) for i in range(levels + 1)]


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


@dataclass
class DiagonalGaussian:
    """The posterior q(z|x) = N(mean, diag(exp(logvar)))."""

    mean: torch.Tensor
    logvar: torch.Tensor

    def sample(self, noise: torch.Tensor) -> torch.Tensor:
        return self.mean + torch.exp(0.5 * self.logvar) * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per sample, summed over latent dimensions."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).sum(dim=1)


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = _widths(cfg)
        layers: list[nn.Module] = [nn.Conv2d(4, w[0], 3, padding=1), nn.LeakyReLU(0.2)]
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.GroupNorm(_groups(cout), cout), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(w[-1] * BOTTOM * BOTTOM, 2 * cfg.latent_dim)
        self.latent_dim = cfg.latent_dim

    def forward(self, x: torch.Tensor) -> DiagonalGaussian:
        h = self.head(self.features(x).flatten(1))
        mean, logvar = h.split(self.latent_dim, dim=1)
        return DiagonalGaussian(mean, logvar.clamp(-12.0, 8.0))


class Decoder(nn.Module):
    """z [N, latent] -> RGBA logits [N, 4, S, S]. Straight (not premultiplied) alpha."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = _widths(cfg)[::-1]
        self.bottom_channels = w[0]
        self.fc = nn.Linear(cfg.latent_dim, w[0] * BOTTOM * BOTTOM)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2)]
        # Batch norm speeds training up a lot on small sets; export folds it into the convs.
        def norm(c: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(c)] if cfg.decoder_norm else []

        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1),
                       *norm(cout), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(w[-1], w[-1], 3, padding=1), *norm(w[-1]), nn.LeakyReLU(0.2),
                   nn.Conv2d(w[-1], 4, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.bottom_channels, BOTTOM, BOTTOM)
        return self.net(h)


class VAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """x: RGBA in [0, 1], [N, 4, S, S]."""
        return self.encoder(x * 2.0 - 1.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """RGBA in [0, 1], [N, 4, S, S]."""
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, DiagonalGaussian]:
        """Decoder logits [N, 4, S, S] for a posterior sample, and the posterior."""
        post = self.encode(x)
        return self.decoder(post.sample(noise)), post
