"""Architectures and their ONNX graphs: every decoder the model package can build exports
through its blocks' own nodes, with torch parity and only the engine-safe operator list."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from assetvae.config import ModelConfig
from assetvae.errors import ConfigError
from assetvae.export.bundle import parity_check
from assetvae.export.graph import ALLOWED_OPS, decoder_graph, encoder_graph
from assetvae.model import (
    ARCHITECTURES,
    VAE,
    Act,
    Chain,
    Conv,
    GroupNorm,
    Residual,
    TextureNoise,
    Upsample,
)
from assetvae.plugin_api.layout import OutputLayout

Z = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)


def _vae(arch: str, size: int = 32) -> VAE:
    torch.manual_seed(0)
    return VAE(ModelConfig(image_size=size, latent_dim=8, width=8, max_width=32, arch=arch)).eval()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("layout", list(OutputLayout))
def test_every_architecture_exports_with_parity_and_allowed_ops(arch, layout):
    vae = _vae(arch)
    with torch.no_grad():  # widen the untrained outputs so rounding differences would show
        for p in vae.decoder.parameters():
            p.mul_(2.0)
    graph = decoder_graph(vae.decoder, 8, 32, layout)
    assert {n.op_type for n in graph.graph.node} <= ALLOWED_OPS
    assert parity_check(vae.decoder, graph, Z, layout) <= 1


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_encoder_graph_matches_torch(arch):
    import onnxruntime as ort

    vae = _vae(arch)
    images = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 4), dtype=np.uint8)
    sess = ort.InferenceSession(
        encoder_graph(vae.encoder, 8, 32).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    mean, logvar = sess.run(["mean", "logvar"], {"image": images})
    with torch.no_grad():
        post = vae.encode(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    assert np.abs(mean - post.mean.numpy()).max() < 1e-4
    assert np.abs(logvar - post.logvar.numpy()).max() < 1e-4


def test_a_residual_decoder_defined_only_in_a_test_exports_unchanged_exporter(monkeypatch):
    """A new architecture is an ARCHITECTURES entry: the exporter walks whatever blocks it has."""
    from assetvae.model import ToMap, conv_encoder

    def residual_decoder(cfg):
        return Chain(
            ToMap(cfg.latent_dim, 16),
            Act("silu"),
            Residual(Conv(16, 16), GroupNorm(16, 4, groups=4), Act()),
            Upsample(),
            Conv(16, 8),
            Act(),
            Residual(Conv(8, 8), Act("silu"), Conv(8, 8)),
            Upsample(),
            Upsample(),
            Conv(8, 4),
        )

    monkeypatch.setitem(ARCHITECTURES, "residual", (conv_encoder, residual_decoder))
    vae = _vae("residual")
    assert any(isinstance(m, Residual) for m in vae.decoder.modules())
    graph = decoder_graph(vae.decoder, 8, 32)
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("Add") >= 2 and "InstanceNormalization" in ops
    assert parity_check(vae.decoder, graph, Z, "uint8_nhwc") <= 1


def test_plain_architecture_is_the_issue_14_baseline():
    vae = _vae("plain", 64)
    convs = [m for m in vae.encoder.features.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (8, (4, 4), (2, 2)),
        (16, (4, 4), (2, 2)),
        (32, (4, 4), (2, 2)),
        (64, (4, 4), (2, 2)),
    ]
    dec = [m for m in vae.decoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in dec] == [32, 16, 8, 8, 4]
    assert vae.decoder.net[0].fc.out_features == 64 * 4 * 4
    assert sum(isinstance(m, nn.GroupNorm) for m in vae.decoder.modules()) == 4


def test_v1_weight_names_are_migrated_by_position():
    from assetvae.model import migrate_state_dict

    vae = _vae("conv")
    current = vae.state_dict()
    old = {f"old.{i}": v.clone() for i, v in enumerate(current.values())}
    migrated = migrate_state_dict(vae, old)
    assert list(migrated) == list(current)
    assert all(torch.equal(migrated[k], current[k]) for k in current)
    # a different shape anywhere: left alone, for load_state_dict to refuse
    old["old.0"] = torch.zeros(3)
    assert migrate_state_dict(vae, old) is old


def test_texture_noise_exports_with_parity_and_varies_with_the_variant():
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32, texture_noise=2)
    vae = VAE(cfg).eval()
    noise = [m for m in vae.decoder.net if isinstance(m, TextureNoise)]
    assert [m.size for m in noise] == [16, 32]  # the top two levels
    with torch.no_grad():  # untrained strengths are zero: give the noise a visible say
        for m in noise:
            m.strength.fill_(3.0)
        for p in vae.decoder.parameters():
            p.mul_(2.0)
    graph = decoder_graph(vae.decoder, 8, 32, OutputLayout.FLOAT32_NCHW)
    assert {n.op_type for n in graph.graph.node} <= ALLOWED_OPS
    assert parity_check(vae.decoder, graph, Z, OutputLayout.FLOAT32_NCHW) <= 1
    # a pure function of z: the same latent decodes the same; near latents differ in detail
    z = torch.from_numpy(Z[:1])
    with torch.no_grad():
        a, b = vae.decode(z), vae.decode(z)
        c = vae.decode(z + 0.05 * torch.from_numpy(Z[1:2]))
        field = torch.tanh(z @ noise[1].proj.T)
        near = torch.tanh((z + 0.05 * torch.from_numpy(Z[1:2])) @ noise[1].proj.T)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float((field.sign() != near.sign()).float().mean()) > 0.01  # not one fixed pattern


def test_texture_noise_needs_the_plain_decoder():
    with pytest.raises(ConfigError, match="texture noise needs the plain"):
        ModelConfig(arch="res", texture_noise=2).validate()
    with pytest.raises(ConfigError, match="1 to 4 levels"):
        ModelConfig(texture_noise=5).validate()
    # off by default: the plain decoder is the Chain old checkpoints were saved from
    assert type(VAE(ModelConfig()).decoder.net) is Chain
