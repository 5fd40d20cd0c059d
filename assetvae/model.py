"""The VAE for RGBA sprites: architectures built from blocks that each know their ONNX nodes.

Every block is a torch module with one more method, ``onnx(g, x) -> str``: it writes its own
nodes through the graph builder (``assetvae.export.graph.GraphBuilder``) and returns the name
of its output. The exporter only asks the decoder for its nodes, so any decoder built from
blocks exports, residual connections included, and a new architecture is one entry in
``ARCHITECTURES`` here (plus its test), not a change to the exporter.

Upsampling is nearest-neighbour followed by a 3x3 convolution rather than a transposed
convolution: no checkerboard artefacts, and plain ONNX ops (Resize-nearest, Conv) that every
engine runtime loads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import ALPHA_MARGIN, ModelConfig

BOTTOM = 4  # spatial size of the decoder's first feature map
INPUT_SCALE, INPUT_SHIFT = 2.0, -1.0  # the encoder sees x * 2 - 1 for RGBA x in [0, 1]
LOGVAR_MIN, LOGVAR_MAX = -12.0, 8.0  # the encoder's log-variance clamp (torch and ONNX alike)


def f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def groups_for(channels: int, most: int = 8) -> int:
    return next(g for g in (most, 8, 4, 2, 1) if g <= most and channels % g == 0)


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


# --- blocks: torch forward and ONNX nodes side by side --------------------------------------


class Act(nn.Module):
    """LeakyReLU(0.2) or SiLU."""

    def __init__(self, kind: str = "leaky"):
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "silu":
            return nn.functional.silu(x)
        return nn.functional.leaky_relu(x, 0.2)

    def onnx(self, g, x: str) -> str:
        if self.kind == "silu":  # x * sigmoid(x): opset 13 has no SiLU
            return g.node("Mul", [x, g.node("Sigmoid", [x])])
        return g.node("LeakyRelu", [x], alpha=0.2)


class Conv(nn.Module):
    """A convolution, optionally followed by batch norm (folded into it at export)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, batch_norm: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(
            cin, cout, k, stride=stride, padding=(k - 1) // 2 if stride == 1 else 1
        )
        self.bn = nn.BatchNorm2d(cout) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.bn(x) if self.bn is not None else x

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """Weight and bias with eval-mode batch norm folded in (engines' BN support varies)."""
        w, b = f32(self.conv.weight), f32(self.conv.bias)
        if self.bn is None:
            return w, b
        bn = self.bn
        scale = (bn.weight.detach().double() / (bn.running_var.double() + bn.eps).sqrt()).numpy()
        w64 = w.astype(np.float64) * scale[:, None, None, None]
        b64 = (b.astype(np.float64) - bn.running_mean.double().numpy()) * scale
        return w64.astype(np.float32), (b64 + bn.bias.detach().double().numpy()).astype(np.float32)

    def onnx(self, g, x: str) -> str:
        w, b = self.folded()
        return g.conv(x, w, b, stride=self.conv.stride[0], pad=self.conv.padding[0])


class GroupNorm(nn.Module):
    """GroupNorm over a feature map of known size (the ONNX form reshapes with constants)."""

    def __init__(self, channels: int, size: int, groups: int = 8):
        super().__init__()
        self.norm = nn.GroupNorm(groups_for(channels, groups), channels)
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)

    def onnx(self, g, x: str) -> str:
        n = self.norm
        return g.group_norm(x, n.num_groups, f32(n.weight), f32(n.bias), n.eps, self.size)


class Upsample(nn.Module):
    """Nearest-neighbour x2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    def onnx(self, g, x: str) -> str:
        return g.upsample_nearest(x, 2)


class SubPixel(nn.Module):
    """x2 by sub-pixel convolution: a 3x3 conv to 4x the channels at the low resolution, then
    each group of four channels laid out as a 2x2 block (torch's PixelShuffle, ONNX's
    DepthToSpace in CRD order). As costly as nearest x2 + 3x3 conv, but every output pixel of a
    2x2 block has its own filter."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = Conv(cin, 4 * cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pixel_shuffle(self.conv(x), 2)

    def onnx(self, g, x: str) -> str:
        return g.node("DepthToSpace", [self.conv.onnx(g, x)], blocksize=2, mode="CRD")


class Residual(nn.Module):
    """x + body(x)."""

    def __init__(self, *body: nn.Module):
        super().__init__()
        self.body = Chain(*body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)

    def onnx(self, g, x: str) -> str:
        return g.node("Add", [x, self.body.onnx(g, x)])


class Chain(nn.Sequential):
    """Blocks in order."""

    def onnx(self, g, x: str) -> str:
        for block in self:
            x = block.onnx(g, x)
        return x


class ToMap(nn.Module):
    """Linear from the latent to a [C, BOTTOM, BOTTOM] feature map."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.fc = nn.Linear(latent_dim, channels * BOTTOM * BOTTOM)
        self.channels = channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z).view(-1, self.channels, BOTTOM, BOTTOM)

    def onnx(self, g, x: str) -> str:
        h = g.gemm(x, f32(self.fc.weight), f32(self.fc.bias))
        return g.reshape(h, [-1, self.channels, BOTTOM, BOTTOM])


class TextureNoise(nn.Module):
    """Per-pixel noise made from the latent inside the graph, added to a feature map with a
    learnt strength per channel (zero at first, as StyleGAN's noise inputs).

    A 32-d latent cannot say where each leaf goes, so a decoder asked for texture (the swd and
    critic levers) draws one pattern pinned to the same pixels of every sprite: the plaid the
    sheets show. tanh(P z), with P a fixed random [S*S, latent] matrix, is a field near +-1 that
    differs between any two variants, so texture can vary with the variant instead. It is a
    function of z alone: the bundle's only input stays z and the seed rules do not change."""

    def __init__(self, latent_dim: int, size: int, channels: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("proj", torch.randn(size * size, latent_dim, generator=g))
        self.strength = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.size = size

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        field = torch.tanh(z.float() @ self.proj.T).view(-1, 1, self.size, self.size)
        return x + self.strength * field.to(x.dtype)

    def onnx(self, g, x: str, z: str) -> str:
        field = g.node("Tanh", [g.node("MatMul", [z, g.const(f32(self.proj.T), "proj")])])
        field = g.reshape(field, [-1, 1, self.size, self.size])
        return g.node("Add", [x, g.node("Mul", [field, g.const(f32(self.strength), "gain")])])


class LatentChain(Chain):
    """A decoder's blocks in order, from the latent; TextureNoise blocks also see the latent."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z
        for block in self:
            x = block(x, z) if isinstance(block, TextureNoise) else block(x)
        return x

    def onnx(self, g, z: str) -> str:
        x = z
        for block in self:
            x = block.onnx(g, x, z) if isinstance(block, TextureNoise) else block.onnx(g, x)
        return x


class Flatten(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def onnx(self, g, x: str) -> str:
        return g.reshape(x, [-1, self.features])


# --- architectures --------------------------------------------------------------------------


def _levels(cfg: ModelConfig) -> int:
    return int(math.log2(cfg.image_size // BOTTOM))


def out_channels(cfg: ModelConfig) -> int:
    """RGBA logits, or one logit per palette entry (assetvae/palette.py)."""
    return len(cfg.palette) if cfg.palette else 4


def head(cfg: ModelConfig, cin: int) -> Conv:
    """The decoder's last convolution, to out_channels(cfg)."""
    return Conv(cin, out_channels(cfg), cfg.head_kernel)


def conv_widths(cfg: ModelConfig) -> list[int]:
    """Channel count at each resolution, from full size down to BOTTOM."""
    return [min(cfg.width * 2**i, cfg.max_width) for i in range(_levels(cfg) + 1)]


def conv_encoder(cfg: ModelConfig) -> Chain:
    """3x3 stem, then strided 4x4 convs with GroupNorm and LeakyReLU."""
    w = conv_widths(cfg)
    blocks: list[nn.Module] = [Conv(4, w[0]), Act()]
    size = cfg.image_size
    for cin, cout in zip(w[:-1], w[1:]):
        size //= 2
        blocks += [Conv(cin, cout, 4, stride=2), GroupNorm(cout, size), Act()]
    return Chain(*blocks, Flatten(w[-1] * BOTTOM * BOTTOM))


def conv_decoder(cfg: ModelConfig) -> Chain:
    """Linear to 4x4, then per level nearest x2 + 3x3 conv (+ batch norm) + LeakyReLU."""
    w = conv_widths(cfg)[::-1]
    bn = cfg.decoder_norm
    blocks: list[nn.Module] = [ToMap(cfg.latent_dim, w[0]), Act()]
    for cin, cout in zip(w[:-1], w[1:]):
        blocks += [Upsample(), Conv(cin, cout, batch_norm=bn), Act()]
    blocks += [Conv(w[-1], w[-1], batch_norm=bn), Act(), head(cfg, w[-1])]
    return Chain(*blocks)


def plain_widths(cfg: ModelConfig) -> list[int]:
    """w, 2w, 4w, 8w, ... one per stride-2 level (the issue-14 baseline's widths)."""
    return [cfg.width * 2**i for i in range(_levels(cfg))]


def plain_encoder(cfg: ModelConfig) -> Chain:
    """The plain baseline: stride-2 4x4 convs with GroupNorm(8) and SiLU, then a linear head."""
    w = plain_widths(cfg)
    blocks: list[nn.Module] = []
    cin, size = 4, cfg.image_size
    for cout in w:
        size //= 2
        blocks += [Conv(cin, cout, 4, stride=2), GroupNorm(cout, size), Act("silu")]
        cin = cout
    return Chain(*blocks, Flatten(w[-1] * BOTTOM * BOTTOM))


def plain_decoder(cfg: ModelConfig) -> Chain:
    """Linear to 8w x 4 x 4, then per level nearest x2, 3x3 conv, GroupNorm(8), SiLU
    (widths 4w, 2w, w, w at 64 px), and a 3x3 conv to RGBA."""
    enc = plain_widths(cfg)
    w = [enc[-1], *enc[-2::-1], enc[0]]
    blocks: list[nn.Module] = [ToMap(cfg.latent_dim, w[0])]
    size = BOTTOM
    levels = cfg.texture_noise or 0  # None (undecided) builds without it
    noisy = cfg.image_size >> levels  # texture noise at the levels above this size
    for cin, cout in zip(w[:-1], w[1:]):
        size *= 2
        blocks += [Upsample(), Conv(cin, cout)]
        if size > noisy:
            blocks.append(TextureNoise(cfg.latent_dim, size, cout, seed=size))
        blocks += [GroupNorm(cout, size), Act("silu")]
    return (LatentChain if levels else Chain)(*blocks, head(cfg, w[-1]))


RES_MAX_SIZE = 8  # residual blocks at 4x4 and 8x8, where a 3x3 conv costs least per channel


def res_decoder(cfg: ModelConfig, subpixel: bool = False) -> Chain:
    """The plain decoder with capacity where it is cheap: a residual block (GroupNorm, SiLU,
    3x3 conv, twice) at each level up to 8x8, paid for by a top level of half the width
    (w/2 at full size, so the runtime's cost stays near the plain decoder's). subpixel:
    sub-pixel x2 upsampling (DepthToSpace) instead of nearest x2 + conv."""
    enc = plain_widths(cfg)
    w = [enc[-1], *enc[-2::-1], max(8, enc[0] // 2)]
    blocks: list[nn.Module] = [ToMap(cfg.latent_dim, w[0])]
    size = BOTTOM
    for cin, cout in zip(w[:-1], w[1:]):
        if size <= RES_MAX_SIZE:
            blocks.append(
                Residual(
                    GroupNorm(cin, size), Act("silu"), Conv(cin, cin),
                    GroupNorm(cin, size), Act("silu"), Conv(cin, cin),
                )
            )  # fmt: skip
        size *= 2
        up = [SubPixel(cin, cout)] if subpixel else [Upsample(), Conv(cin, cout)]
        blocks += [*up, GroupNorm(cout, size), Act("silu")]
    return Chain(*blocks, head(cfg, w[-1]))


def _encoder_features(encoder: Chain) -> int:
    return encoder[-1].features


# name -> (encoder features, decoder); the encoder's linear head is shared by all.
ARCHITECTURES = {
    "conv": (conv_encoder, conv_decoder),
    "plain": (plain_encoder, plain_decoder),
    "res": (plain_encoder, res_decoder),  # issue 14's capacity lever
    "res-subpixel": (plain_encoder, lambda cfg: res_decoder(cfg, subpixel=True)),
}


class Encoder(nn.Module):
    """RGBA in [0, 1], [N, 4, S, S] -> posterior. The input is normalised here, once."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.features = ARCHITECTURES[cfg.arch][0](cfg)
        self.head = nn.Linear(_encoder_features(self.features), 2 * cfg.latent_dim)
        self.latent_dim = cfg.latent_dim
        self.scale = cfg.output_scale

    def forward(self, x: torch.Tensor) -> DiagonalGaussian:
        h = self.head(self.features(x * INPUT_SCALE + INPUT_SHIFT))
        mean, logvar = h.split(self.latent_dim, dim=1)
        return DiagonalGaussian(mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    def from_display(self, x: torch.Tensor) -> DiagonalGaussian:
        """The posterior of display-size images (a native-grid model takes every k-th pixel)."""
        return self(x[:, :, :: self.scale, :: self.scale] if self.scale > 1 else x)

    def onnx(self, g, x: str) -> tuple[str, str]:
        """x: float RGBA in [0, 1], NCHW, at display size. Returns the (mean, logvar) names."""
        if self.scale > 1:
            x = g.downsample_nearest(x, self.scale)
        h = g.node("Add", [g.node("Mul", [x, g.scalar(INPUT_SCALE)]), g.scalar(INPUT_SHIFT)])
        h = self.features.onnx(g, h)
        w, b, d = f32(self.head.weight), f32(self.head.bias), self.latent_dim
        mean = g.gemm(h, w[:d], b[:d])
        logvar = g.node(
            "Clip", [g.gemm(h, w[d:], b[d:]), g.scalar(LOGVAR_MIN), g.scalar(LOGVAR_MAX)]
        )
        return mean, logvar


def open_alpha(rgba: torch.Tensor, margin: float) -> torch.Tensor:
    """RGBA in [0, 1] from the sigmoid, [N, 4, H, W] -> the same with its alpha stretched by
    ``margin`` past both ends and clipped: a sigmoid never reaches 0 or 1, so without this
    every sprite has a faint halo (alpha 1/255 where the art is empty, which defeats an atlas
    packer's trimming) and a not-quite-solid interior (254, which rules out an opaque pass)."""
    if not margin:
        return rgba
    alpha = (rgba[:, 3:4] * (1 + 2 * margin) - margin).clamp(0.0, 1.0)
    return torch.cat([rgba[:, :3], alpha], dim=1)


def alpha_target(alpha: torch.Tensor, margin: float) -> torch.Tensor:
    """The sigmoid value that open_alpha turns into ``alpha``, for a loss on the logit:
    0 and 1 stay (the logit keeps being pushed past the clip), values between are mapped
    exactly, so soft edges and drop shadows keep their alpha."""
    if not margin:
        return alpha
    inner = (alpha + margin) / (1 + 2 * margin)
    return torch.where((alpha > 0) & (alpha < 1), inner, alpha)


class Decoder(nn.Module):
    """z [N, latent] -> logits [N, C, S, S]: RGBA logits (straight, not premultiplied alpha),
    or per-pixel logits over a palette (cfg.palette; assetvae/palette.py). ``colour`` turns
    them into RGBA in [0, 1].

    A native-grid model (cfg.output_scale > 1) trains at S and is shown, and exported, at
    S * output_scale, upscaled by nearest: crisp pixel art by construction.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.net = ARCHITECTURES[cfg.arch][1](cfg)
        self.scale = cfg.output_scale
        self.palette: torch.Tensor | None
        if cfg.palette:
            self.register_buffer("palette", torch.tensor(cfg.palette, dtype=torch.float32))
        else:
            self.palette = None
        margin = ALPHA_MARGIN if cfg.alpha_margin is None else cfg.alpha_margin
        self.alpha_margin = 0.0 if cfg.palette else margin

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def colour(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> RGBA in [0, 1] as images are made: a sigmoid, or the palette's sharp pick
        (training's losses use the softer one: losses.Batch.pred)."""
        if self.palette is None:
            return open_alpha(torch.sigmoid(logits), self.alpha_margin)
        from .palette import SHARP_TEMPERATURE, soft_pick

        return soft_pick(logits, self.palette, SHARP_TEMPERATURE)

    @property
    def last_weight(self) -> torch.Tensor:
        """The weight of the layer that makes the logits (where losses are balanced)."""
        return self.net[-1].conv.weight

    def display(self, z: torch.Tensor) -> torch.Tensor:
        """RGBA in [0, 1] at the size the bundle outputs."""
        h = self.colour(self.net(z))
        return (
            nn.functional.interpolate(h, scale_factor=self.scale, mode="nearest")
            if self.scale > 1
            else h
        )

    def onnx(self, g, z: str) -> str:
        """The logits' tensor name (the part an fp16 graph runs in half precision)."""
        return self.net.onnx(g, z)

    def onnx_image(self, g, logits: str) -> str:
        """Logits -> RGBA in [0, 1] at display size (float32 in every graph); the exporter
        adds the output layout's tail."""
        if self.palette is None:
            h = g.node("Sigmoid", [logits])
            if self.alpha_margin:  # open_alpha: colour x1 + 0, alpha x(1 + 2m) - m, clipped
                m = self.alpha_margin
                scale = np.array([1, 1, 1, 1 + 2 * m], np.float32).reshape(1, 4, 1, 1)
                shift = np.array([0, 0, 0, -m], np.float32).reshape(1, 4, 1, 1)
                h = g.node(
                    "Add",
                    [
                        g.node("Mul", [h, g.const(scale, "alpha_scale")]),
                        g.const(shift, "alpha_shift"),
                    ],
                )
                h = g.node("Clip", [h, g.scalar(0.0), g.scalar(1.0)])
        else:
            from .palette import SHARP_TEMPERATURE

            p = g.node("Mul", [g.node("Tanh", [logits]), g.scalar(SHARP_TEMPERATURE)])
            p = g.node("Transpose", [g.node("Softmax", [p], axis=1)], perm=[0, 2, 3, 1])
            h = g.node("MatMul", [p, g.const(f32(self.palette), "palette")])
            h = g.node("Transpose", [h], perm=[0, 3, 1, 2])
        return g.upsample_nearest(h, self.scale) if self.scale > 1 else h


class VAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg = cfg.settled()  # a size left open (None) builds at the defaults
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """x: RGBA in [0, 1], [N, 4, S, S]."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """RGBA in [0, 1], [N, 4, S, S] (the training size)."""
        return self.decoder.colour(self.decoder(z))

    def decode_display(self, z: torch.Tensor) -> torch.Tensor:
        """RGBA in [0, 1] at the size the bundle outputs (S * output_scale)."""
        return self.decoder.display(z)

    @property
    def display_size(self) -> int:
        return self.cfg.image_size * self.cfg.output_scale

    def forward(
        self,
        x: torch.Tensor,
        noise: torch.Tensor,
        more: Callable[[DiagonalGaussian], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, DiagonalGaussian]:
        """Decoder logits [N, 4, S, S] for a posterior sample, and the posterior. more: latents
        made from the posterior (the critic's sampled fakes), decoded in the same pass after
        the N rows (one forward, as DDP wants)."""
        post = self.encode(x)
        z = post.sample(noise)
        if more is not None:
            z = torch.cat([z, more(post)])
        return self.decoder(z), post


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [N, S, S, 4] -> float [N, 4, S, S] in [0, 1]."""
    x = torch.from_numpy(np.require(images, requirements=["C", "W"]))  # torch wants writable memory
    return x.to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float RGBA [N, 4, S, S] in [0, 1] -> uint8 [N, S, S, 4], rounding as the bundle's graph does
    (x 255, round half to even, clip)."""
    return (x.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def migrate_state_dict(
    model: nn.Module, weights: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Weights saved under older module names (checkpoint v1) renamed to this model's names.

    The parameters and buffers were created in the same order with the same shapes, so they
    are matched by position; anything else is returned unchanged for load_state_dict to refuse.
    """
    want = model.state_dict()
    if set(weights) == set(want):
        return weights
    old = [(k, v) for k, v in weights.items() if isinstance(v, torch.Tensor)]
    new = list(want.items())
    if len(old) != len(new) or any(
        tuple(v.shape) != tuple(w.shape) for (_, v), (_, w) in zip(old, new)
    ):
        return weights
    return {k: v for (k, _), (_, v) in zip(new, old)}
