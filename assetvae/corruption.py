"""Input corruption for denoising training, as in the classic denoising autoencoder.

The encoder sees the corrupted image; the loss compares the decoder's output with the clean
one, so the model learns to restore (salt-and-pepper specks, sensor-like noise).
"""

from __future__ import annotations

import torch

from .errors import ConfigError

KINDS = ("salt-pepper", "gaussian")


def parse_noise(spec: str | None) -> tuple[str, float] | None:
    """'salt-pepper:0.1' -> ('salt-pepper', 0.1); None or '' -> None."""
    if not spec:
        return None
    kind, _, amount = spec.partition(":")
    try:
        value = float(amount)
    except ValueError:
        value = -1.0
    if kind not in KINDS or not 0 < value <= 1:
        raise ConfigError(
            f"noise {spec!r} not understood: use salt-pepper:P or gaussian:SIGMA "
            "with a value in (0, 1]"
        )
    return kind, value


def corrupt(x: torch.Tensor, kind: str, amount: float, g: torch.Generator) -> torch.Tensor:
    """Corrupted copy of RGBA images x [N, 4, H, W] in [0, 1]."""
    if kind == "salt-pepper":
        # A hit pixel becomes opaque white (salt) or fully transparent (pepper).
        u = torch.rand(x.shape[0], 1, *x.shape[2:], generator=g).to(x.device)
        salt = (u < amount / 2).to(x.dtype)
        pepper = ((u >= amount / 2) & (u < amount)).to(x.dtype)
        return x * (1 - salt - pepper) + salt
    noise = torch.randn(x.shape, generator=g).to(x.device) * amount
    return (x + noise).clamp(0.0, 1.0)
