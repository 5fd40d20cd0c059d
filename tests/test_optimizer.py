"""The optimiser: Adam by default; with --weight-decay, AdamW that decays the conv and linear
weights and leaves the norms' scales and the biases alone."""

from __future__ import annotations

import pytest
import torch

from assetvae.config import ModelConfig, TrainConfig
from assetvae.errors import ConfigError
from assetvae.model import VAE
from assetvae.train import make_optimizer


def _model() -> VAE:
    return VAE(ModelConfig(image_size=16, width=8, latent_dim=4))


def test_adam_by_default_and_rmsprop_when_asked():
    assert type(make_optimizer(_model(), TrainConfig())) is torch.optim.Adam
    assert type(make_optimizer(_model(), TrainConfig(optimizer="rmsprop"))) is torch.optim.RMSprop


def test_weight_decay_shrinks_weights_only():
    torch.manual_seed(0)
    model = _model()
    opt = make_optimizer(model, TrainConfig(weight_decay=0.5, lr=0.1))
    assert type(opt) is torch.optim.AdamW
    decayed, kept = opt.param_groups
    assert decayed["weight_decay"] == 0.5 and kept["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim <= 1 for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(list(model.parameters()))
    # With zero gradients, one step moves only the decayed weights, each by lr * wd of itself.
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for p, b in zip(model.parameters(), before):
        want = b * (1 - 0.1 * 0.5) if p.ndim > 1 else b
        assert torch.allclose(p.detach(), want)


def test_weight_decay_out_of_range_is_refused():
    with pytest.raises(ConfigError, match="--weight-decay"):
        TrainConfig(weight_decay=2.0).validate()
