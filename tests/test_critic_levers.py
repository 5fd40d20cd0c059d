"""The critic's levers for small folders: sampled fakes (TrainConfig.sampled_fakes: latents drawn
as variants are, from a batch's posteriors, decoded beside the reconstructions and judged by the
critic), LeCam regularisation (TrainConfig.lecam_weight) and feature matching
(TrainConfig.feature_match)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from assetvae.adversarial import (
    Adversary,
    diff_augment,
    feature_match_term,
    g_hinge_loss,
    lecam_term,
    variant_latents,
)
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


def test_a_run_with_the_three_levers_trains_and_records_them(tiny_plants, tmp_path):
    cfg = _cfg(str(tiny_plants))
    cfg.train.lecam_weight, cfg.train.feature_match = 0.3, 10.0
    result = train(cfg, tmp_path / "run", progress=False, log=lambda s: None)
    state = load_checkpoint(tmp_path / "run")
    tc = state["config"].train
    assert (tc.sampled_fakes, tc.lecam_weight, tc.feature_match) == (0.5, 0.3, 10.0)
    assert torch.isfinite(state["d_lecam_anchors"]).all() and state["d_lecam_anchors"].any()
    last = RunDir(tmp_path / "run").read_metrics()[-1]
    assert np.isfinite(last["d_loss"]) and np.isfinite(last["loss"])
    assert [c.name for c in result.class_model] == ["cactus", "mushroom", "pine"]


def test_lecam_pulls_each_sides_logits_toward_the_others_moving_average():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0])
    anchors = torch.tensor([2.0, -1.0])  # (mean real logit, mean fake logit)
    # real toward the fakes' anchor -1: (2^2 + 4^2) / 2; fake toward the reals' 2: 3^2
    assert float(lecam_term(real, fake, anchors)) == 10.0 + 9.0


def test_lecam_anchors_follow_the_critic_and_survive_a_resume():
    adv = Adversary(0.1, 1e-3, torch.device("cpu"), seed=0, lecam=0.3)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(4, 4, 32, 32, generator=g), torch.rand(4, 4, 32, 32, generator=g)
    params = adv.draw(4)
    with torch.no_grad():
        means = [float(adv.disc(diff_augment(x, params)).mean()) for x in (real, fake)]
    assert np.isfinite(adv.update(real, fake, params))
    assert torch.allclose(adv.anchors, 0.01 * torch.tensor(means), atol=1e-6)  # from zero
    again = Adversary(0.1, 1e-3, torch.device("cpu"), seed=0, lecam=0.3)
    again.load_state_dict(adv.state_dict())
    assert torch.equal(again.anchors, adv.anchors)
    old = {k: v for k, v in adv.state_dict().items() if k != "d_lecam_anchors"}
    fresh = Adversary(0.1, 1e-3, torch.device("cpu"), seed=0, lecam=0.3)
    fresh.load_state_dict(old)  # a critic saved before the anchors: they start at zero
    assert torch.equal(fresh.anchors, torch.zeros(2))


@torch.no_grad()
def test_feature_matching_compares_each_reconstruction_with_its_own_target():
    assert (
        float(
            feature_match_term(
                [torch.ones(2, 3), torch.zeros(1)], [torch.zeros(2, 3), torch.ones(1)]
            )
        )
        == 1.0
    )
    adv = Adversary(0.1, 1e-3, torch.device("cpu"), seed=0, match=10.0)
    adv.disc.eval()  # no power iteration between calls: the same critic for every call
    g = torch.Generator().manual_seed(0)
    real = torch.rand(4, 4, 32, 32, generator=g)
    other = torch.rand(2, 4, 32, 32, generator=g)
    params = adv.draw(6)
    fakes = torch.cat([real, other])  # perfect reconstructions, then two sampled fakes
    hinge = float(g_hinge_loss(adv.disc(diff_augment(fakes, params))))
    assert float(adv.generator_loss(fakes, params, real)) == pytest.approx(hinge, abs=1e-6)
    worse = torch.cat([real.flip(0), other])  # each reconstruction of another image
    assert (
        float(adv.generator_loss(worse, params, real))
        > float(g_hinge_loss(adv.disc(diff_augment(worse, params)))) + 1e-3
    )
    # Off, or without targets, it is the hinge loss alone.
    assert float(adv.generator_loss(worse, params)) == pytest.approx(
        float(g_hinge_loss(adv.disc(diff_augment(worse, params)))), abs=1e-6
    )
