"""The critic's sampled fakes (TrainConfig.sampled_fakes): latents drawn as variants are, from a
batch's posteriors, decoded beside the reconstructions and judged by the critic."""

from __future__ import annotations

import math

import numpy as np
import torch

from assetvae.adversarial import variant_latents
from assetvae.config import ModelConfig, RunConfig, TrainConfig
from assetvae.rundir import RunDir, load_checkpoint
from assetvae.train import Trainer, train


def test_a_fake_moves_its_image_by_the_class_step_and_its_own_posterior_noise():
    mean = torch.tensor([[0.0, 0.0], [2.0, 4.0], [10.0, 10.0], [7.0, -3.0]])
    logvar = torch.log(torch.tensor([[0.25, 1.0], [1.0, 1.0], [4.0, 4.0], [1.0, 1.0]]))
    labels = torch.tensor([0, 0, 1, 2])
    normals = torch.tensor([[1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    uniforms = torch.tensor([[0.0, 0.0], [0.9, 0.0], [0.5, 0.5], [0.0, 0.0]])
    z = variant_latents(mean, logvar, labels, normals, uniforms, count=3, scale=0.5)
    assert z.shape == (3, 2)
    # Row 0, class {0, 1}: a = 0, b = the other, so the step is (m0 - m1) / sqrt 2, plus its
    # own std (0.5, 1) times its normals (1, -1).
    want0 = mean[0] + 0.5 * ((mean[0] - mean[1]) / math.sqrt(2) + torch.tensor([0.5, -1.0]))
    assert torch.allclose(z[0], want0)
    # Row 1: a = 1 (0.9 * 2), b = 0, and zero normals.
    assert torch.allclose(z[1], mean[1] + 0.5 * (mean[1] - mean[0]) / math.sqrt(2))
    # Row 2 is alone in its class: its posterior noise only (std 2).
    assert torch.allclose(z[2], mean[2] + 0.5 * 2.0 * torch.tensor([1.0, 1.0]))


def test_the_fakes_steps_have_the_class_covariance_and_train_no_encoder():
    g = torch.Generator().manual_seed(0)
    cov = torch.tensor([[2.0, 0.6], [0.6, 0.5]])
    chol = torch.linalg.cholesky(cov)
    n = 64  # one class; many draws of the step for image 0
    mean = (torch.randn(n, 2, generator=g) @ chol.T).requires_grad_()
    logvar = torch.full((n, 2), -30.0, requires_grad=True)  # no posterior noise
    steps = []
    for _ in range(400):
        z = variant_latents(
            mean,
            logvar,
            torch.zeros(n, dtype=torch.long),
            torch.randn(n, 2, generator=g),
            torch.rand(n, 2, generator=g),
            count=n,
            scale=1.0,
        )
        steps.append(z - mean.detach())
    steps = torch.cat(steps)
    sample_cov = torch.cov(mean.detach().T, correction=0)
    assert torch.allclose(torch.cov(steps.T, correction=0), sample_cov, atol=0.08)
    assert not z.requires_grad  # the critic's verdict on a variant trains the decoder only


def _cfg(data: str = "", fakes: float = 0.5, epochs: int = 2) -> RunConfig:
    return RunConfig(
        data=data,
        model=ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32),
        train=TrainConfig(
            epochs=epochs, batch_size=8, adv_weight=0.1, adv_start=0.0, sampled_fakes=fakes
        ),
    )


def test_the_critic_judges_the_reconstructions_and_the_sampled_fakes():
    trainer = Trainer(_cfg(fakes=0.5), torch.device("cpu"))
    seen = {}
    update = trainer.adversary.update

    def spy(real, fake, params, share=1.0, fake_params=None):
        seen["real"], seen["fake"], seen["fake_params"] = real, fake, fake_params
        return update(real, fake, params, share, fake_params)

    trainer.adversary.update = spy
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 4, 32, 32, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    logged = trainer.step(x, g, epoch=0.0, progress=0.5, labels=labels)
    assert len(seen["real"]) == 8 and len(seen["fake"]) == 12  # 8 reconstructions + 4 variants
    assert len(seen["fake_params"]) == 12 and np.isfinite(logged["d_loss"])
    # Without labels (or with the lever off) the step is the reconstructions-only one.
    trainer.step(x, g, epoch=0.0, progress=0.5)
    assert len(seen["fake"]) == 8


def test_the_lever_off_leaves_the_step_as_it_was():
    """sampled_fakes 0 draws nothing more from the step's generator: runs are unchanged."""
    runs = []
    for labels in (None, torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])):
        torch.manual_seed(0)
        trainer = Trainer(_cfg(fakes=0.0), torch.device("cpu"))
        g = torch.Generator().manual_seed(1)
        x = torch.rand(8, 4, 32, 32, generator=torch.Generator().manual_seed(2))
        trainer.step(x, g, epoch=0.0, progress=0.5, labels=labels)
        runs.append(([p.detach().clone() for p in trainer.model.parameters()], g.get_state()))
    (a, ga), (b, gb) = runs
    assert all(torch.equal(p, q) for p, q in zip(a, b)) and torch.equal(ga, gb)


def test_a_run_with_sampled_fakes_trains_and_records_the_setting(tiny_plants, tmp_path):
    result = train(_cfg(str(tiny_plants)), tmp_path / "run", progress=False, log=lambda s: None)
    assert load_checkpoint(tmp_path / "run")["config"].train.sampled_fakes == 0.5
    last = RunDir(tmp_path / "run").read_metrics()[-1]
    assert np.isfinite(last["d_loss"]) and np.isfinite(last["loss"])
    assert [c.name for c in result.class_model] == ["cactus", "mushroom", "pine"]
