"""The moving average of the weights (TrainConfig.ema): how it follows the live weights, and
that a run's checkpoint ships it."""

from __future__ import annotations

import torch

from assetvae.config import ModelConfig, RunConfig, TrainConfig
from assetvae.rundir import load_checkpoint
from assetvae.train import Trainer, train


def _cfg(data: str = "", ema: float = 0.5, epochs: int = 2) -> RunConfig:
    return RunConfig(
        data=data,
        model=ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32),
        train=TrainConfig(epochs=epochs, batch_size=8, ema=ema, adv_weight=0.0),
    )


def _params(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_the_average_follows_the_live_weights_at_its_ramped_decay():
    trainer = Trainer(_cfg(ema=0.5), torch.device("cpu"))
    assert trainer.final is trainer.ema
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 4, 32, 32, generator=g)
    avg = _params(trainer.ema)
    assert all(torch.equal(a, p) for a, p in zip(avg, _params(trainer.model)))  # starts equal
    for n in range(1, 11):
        trainer.step(x, g, epoch=0.0, progress=0.5)
        live = _params(trainer.model)
        decay = min(0.5, (1 + n) / (10 + n))  # 2/11 at the first step, 0.5 from the ninth
        avg = [decay * a + (1 - decay) * p for a, p in zip(avg, live)]
        got = _params(trainer.ema)
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(avg, got)), n
    assert not all(torch.equal(a, p) for a, p in zip(got, live))  # it lags the live weights


def test_without_ema_the_live_weights_are_what_ships():
    trainer = Trainer(_cfg(ema=0.0), torch.device("cpu"))
    assert trainer.ema is None and trainer.final is trainer.model
    assert "live_model" not in trainer.state_dict()


def test_a_run_with_ema_ships_the_average_and_keeps_the_live_weights(tiny_plants, tmp_path):
    train(_cfg(str(tiny_plants), ema=0.9), tmp_path / "run", progress=False, log=lambda s: None)
    state = load_checkpoint(tmp_path / "run")
    shipped, live = state["model"], state["live_model"]
    assert state["config"].train.ema == 0.9
    assert shipped.keys() == live.keys()
    weights = [k for k in shipped if k.endswith("weight")]
    assert any(not torch.equal(shipped[k], live[k]) for k in weights)
    assert all(torch.isfinite(shipped[k]).all() for k in shipped)
