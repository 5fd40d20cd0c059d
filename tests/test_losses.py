"""Loss terms and the class latent model are pure functions: test them as such."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assetvae.latent_model import fit_class_model, fit_gaussian, shrinkage
from assetvae.losses import RECON, TERMS, Batch, gradient_l1, kl_weight, l1_loss, vae_loss
from assetvae.model import DiagonalGaussian, alpha_target


def alpha_weighted_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The "l1" reconstruction loss of an image given as colours (not logits)."""
    return l1_loss(Batch(torch.logit(pred), target))


def _img(rgb, a, size=4):
    x = torch.zeros(1, 4, size, size)
    x[:, :3] = torch.tensor(rgb, dtype=torch.float32)[None, :, None, None]
    x[:, 3] = a
    return x


def test_colour_under_transparent_target_pixels_does_not_matter():
    target = _img((1.0, 0.0, 0.0), 0.0)
    a = _img((0.0, 1.0, 0.0), 0.0)
    b = _img((0.3, 0.3, 0.9), 0.0)
    assert float(alpha_weighted_l1(a, target)) == 0.0 == float(alpha_weighted_l1(b, target))


def test_colour_error_is_weighted_by_target_alpha_and_alpha_has_its_own_error():
    pred = _img((0.5, 0.5, 0.5), 1.0)
    opaque, half = _img((1.0, 0.5, 0.5), 1.0), _img((1.0, 0.5, 0.5), 0.5)
    e_opaque = float(alpha_weighted_l1(pred, opaque))
    e_half = float(alpha_weighted_l1(pred, half))
    assert e_opaque == pytest.approx(16 * 0.5)  # 16 pixels, 0.5 red error, no alpha error
    assert e_half == pytest.approx(16 * 0.5 * 0.5 + 16 * 0.5)  # colour halved, plus alpha error


def test_gradient_term_punishes_blur_that_l1_barely_sees():
    target = torch.zeros(1, 4, 8, 8)
    target[:, :, :, :4] = 1.0  # a hard vertical edge
    blurred = target.clone()
    blurred[:, :, :, 3] = 0.5
    blurred[:, :, :, 4] = 0.5
    assert float(gradient_l1(target, target)) == 0.0
    assert float(gradient_l1(blurred, target)) > 0.0
    # gradient term is invariant to hidden colour under transparency (premultiplied)
    hidden = torch.zeros(1, 4, 8, 8)
    hidden2 = hidden.clone()
    hidden2[:, :3] = 0.7
    assert float(gradient_l1(hidden2, hidden)) == 0.0


def test_kl_matches_closed_form_and_is_zero_at_prior():
    post = DiagonalGaussian(torch.zeros(2, 3), torch.zeros(2, 3))
    assert torch.allclose(post.kl(), torch.zeros(2))
    post = DiagonalGaussian(torch.tensor([[1.0, 0.0]]), torch.log(torch.tensor([[4.0, 1.0]])))
    expected = 0.5 * ((1 + 4 - 1 - np.log(4)) + 0)
    assert float(post.kl()) == pytest.approx(expected, rel=1e-6)


def test_kl_warmup_is_linear_then_flat():
    assert kl_weight(0, 0.1, 4) == 0.0
    assert kl_weight(2, 0.1, 4) == pytest.approx(0.05)
    assert kl_weight(10, 0.1, 4) == pytest.approx(0.1)
    assert kl_weight(0, 0.1, 0) == 0.1


def test_vae_loss_combines_terms():
    logits, target = torch.randn(3, 4, 8, 8), torch.rand(3, 4, 8, 8)
    post = DiagonalGaussian(torch.randn(3, 5), torch.randn(3, 5) * 0.1)
    t = vae_loss(Batch(logits, target, post), "l1-alpha", {"grad": 2.0, "grad-grey": 0.0}, kl_w=0.5)
    p = t.parts
    assert set(p) == {"recon", "grad", "kl"}  # a term weighted 0 is not computed or logged
    assert float(t.total) == pytest.approx(
        float(p["recon"] + 2 * p["grad"] + 0.5 * p["kl"]), rel=1e-5
    )
    assert float(p["kl"]) == pytest.approx(float(post.kl().mean()))
    assert set(t.log()) == {"loss", "recon", "grad", "kl"}


def test_every_registered_term_is_a_per_image_value_that_is_zero_on_a_perfect_match():
    target = torch.rand(2, 4, 8, 8) * 0.98 + 0.01
    perfect = Batch(torch.logit(target), target)
    blurred = torch.nn.functional.avg_pool2d(
        target, 3, stride=1, padding=1, count_include_pad=False
    )
    off = Batch(torch.logit(blurred), target)
    for name, t in TERMS.items():
        assert t.fn(perfect).shape == (2,), name
        assert float(t.fn(perfect).abs().max()) < 1e-4, name
        assert float(t.fn(off).min()) > 0, name
    for name, fn in RECON.items():
        if name != "palette":  # a palette decoder's own: tests/test_palette.py
            assert fn(perfect).shape == (2,), name


def test_loss_options_and_config_come_from_the_registry():
    from click.testing import CliRunner

    from assetvae.cli import main
    from assetvae.config import RunConfig, TrainConfig

    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    for name in TERMS:
        assert f"--{name}-weight" in help_text
    for name in RECON:
        assert name in help_text
    assert TrainConfig().weight("grad") == TERMS["grad"].default
    assert TrainConfig(loss_weights={"grad": 0.0}).weight("grad") == 0.0
    # a v1 checkpoint's config named the gradient weight on its own
    old = RunConfig.from_dict({"train": {"grad_weight": 0.25}})
    assert old.train.weight("grad") == 0.25


def test_class_factor_is_lower_triangular_and_pd_for_tiny_classes():
    rng = np.random.default_rng(0)
    d = 16
    for n in (1, 2, 3, 50):
        means = rng.normal(size=(n, d))
        var = rng.uniform(0.01, 0.1, size=(n, d))
        c, L = fit_gaussian(means, var)
        assert np.allclose(c, means.mean(0))
        assert np.allclose(L, np.tril(L)) and (np.diag(L) > 0).all()
        cov = L @ L.T
        assert np.all(np.linalg.eigvalsh(cov) > 0)
    # one image: the covariance is its own posterior variance (a diagonal)
    c, L = fit_gaussian(np.ones((1, 3)), np.full((1, 3), 0.25))
    assert np.allclose(L @ L.T, np.diag([0.25] * 3), atol=1e-5)
    assert shrinkage(1, 8) == 1.0 and shrinkage(1000, 8) < 0.01


def test_covariance_is_spread_plus_mean_posterior_variance():
    rng = np.random.default_rng(1)
    means = rng.normal(size=(4000, 2)) * [2.0, 0.5]
    var = np.full((4000, 2), 0.1)
    _, L = fit_gaussian(means, var)
    cov = L @ L.T
    assert cov[0, 0] == pytest.approx(4.1, rel=0.05) and cov[1, 1] == pytest.approx(0.35, rel=0.05)


def test_fit_class_model_per_class():
    means = np.array([[0.0, 0.0], [2.0, 2.0], [10.0, 10.0]])
    var = np.full((3, 2), 0.5)
    classes = fit_class_model(means, var, np.array([0, 0, 1]), ["a", "b"])
    assert [c.name for c in classes] == ["a", "b"] and [c.count for c in classes] == [2, 1]
    assert np.allclose(classes[1].centroid, [10, 10])


def test_logit_losses_ignore_hidden_colour_and_never_go_flat():
    from assetvae.losses import alpha_weighted_bce, recon_loss

    def batch_loss(fn):
        return lambda logits, target: fn(Batch(logits, target))

    recon_loss, alpha_weighted_bce = batch_loss(recon_loss), batch_loss(alpha_weighted_bce)

    target = _img((1.0, 0.0, 0.0), 0.0)
    a, b = torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 4, 4)
    a[:, :3], b[:, :3] = 5.0, -5.0  # very different colour logits under a transparent target
    for loss in (recon_loss, alpha_weighted_bce):
        assert torch.allclose(loss(a, target), loss(b, target))
    # A saturated "transparent" logit over an opaque target still gets a strong gradient on alpha.
    logits = torch.full((1, 4, 4, 4), -12.0, requires_grad=True)
    recon_loss(logits, _img((0.5, 0.5, 0.5), 1.0)).sum().backward()
    assert logits.grad[:, 3].abs().min() > 0.9


def _pyramid_sum(levels: list[torch.Tensor]) -> torch.Tensor:
    from assetvae.losses import _blur

    x = levels[-1]
    for band in reversed(levels[:-1]):
        up = torch.zeros_like(band)
        up[..., ::2, ::2] = 4.0 * x
        x = band + _blur(up)
    return x


def test_laplacian_pyramid_loses_nothing():
    from assetvae.losses import laplacian_pyramid

    x = torch.rand(2, 4, 64, 64, dtype=torch.float64)
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]
    assert torch.allclose(_pyramid_sum(levels), x, atol=1e-12)


def test_patch_distribution_term_pays_for_missing_texture_not_for_moved_texture():
    """What the swd term is for: L1 charges a texture moved by two pixels about as much as
    the texture wiped out, which is why pixel losses blur; swd charges the wiped-out one."""
    g = torch.Generator().manual_seed(0)
    base = torch.full((4, 4, 64, 64), 0.5)
    texture = (torch.rand(4, 3, 64, 64, generator=g) > 0.5).float() * 0.6 + 0.2
    target = base.clone()
    target[:, :3] = texture
    target[:, 3] = 0.99
    moved = target.roll(2, dims=3)
    wiped = target.clone()
    wiped[:, :3] = texture.mean(dim=(2, 3), keepdim=True).expand_as(texture)

    def cost(fn, pred):
        return float(fn(Batch(torch.logit(pred), target, g=g)).mean())

    swd = TERMS["swd"].fn
    assert cost(l1_loss, moved) > 0.5 * cost(l1_loss, wiped)  # L1: moving is nearly as bad
    # swd: moving costs only the noise of ~200 sampled patches per image and level
    assert cost(swd, moved) < 0.25 * cost(swd, wiped)


def test_alpha_levels_term_pays_for_a_missing_fringe_not_for_a_moved_one():
    """What the alpha-levels term is for: a faint glow the decoder left out costs, the same
    glow in other places does not; and a pixel open_alpha clips to 0 still gets the gradient
    that grows it (the term is judged on the sigmoid, like the l1 loss)."""
    m = 0.05
    target = torch.zeros(2, 4, 16, 16)
    target[:, :, 4:12, 4:12] = 1.0
    target[:, 3, 3, 4:12] = 0.1  # a faint glow along the top edge
    moved = target.clone()
    moved[:, 3, 3, 4:12] = 0.0
    moved[:, 3, 12, 4:12] = 0.1  # ... along the bottom edge instead
    wiped = target.clone()
    wiped[:, 3, 3, 4:12] = 0.0
    fn = TERMS["alpha-levels"].fn

    def logits(rgba):  # what the sigmoid must give for open_alpha to show rgba
        x = rgba.clone()
        x[:, 3] = alpha_target(rgba[:, 3], m)
        return torch.logit(x.clamp(1e-4, 1 - 1e-4))

    def cost(pred):
        return fn(Batch(logits(pred), target, alpha_margin=m))

    assert torch.all(cost(wiped) > 8 * 0.1)  # eight pixels short of (0.1 + m) / (1 + 2m)
    assert torch.all(cost(moved) < 0.05 * cost(wiped))  # only the logit clamp's 1e-4 a pixel
    lg = logits(wiped).requires_grad_(True)
    fn(Batch(lg, target, alpha_margin=m)).sum().backward()
    assert lg.grad[:, 3].min() < 0  # descent raises some clipped-to-0 pixels' alpha


def test_alpha_edges_term_judges_only_the_arts_soft_pixels():
    """The soft-edge term counts the alpha error on pixels the target shows part-covered, and
    nothing on solid or transparent ones, however wrong they are."""
    m = 0.05
    target = torch.zeros(1, 4, 8, 8)
    target[:, 3, 2:6, 2:6] = 1.0
    target[:, 3, 1, 2:6] = 0.25  # a soft top edge of four pixels
    fn = TERMS["alpha-edges"].fn
    exact = torch.logit(alpha_target(target[:, 3], m).clamp(1e-4, 1 - 1e-4))

    def cost(alpha_logits):
        lg = torch.zeros(1, 4, 8, 8)
        lg[:, 3] = alpha_logits
        return float(fn(Batch(lg, target, alpha_margin=m)))

    assert cost(exact) < 1e-3
    hard_wrong = exact.clone()
    hard_wrong[:, 2:6, 2:6] = -10.0  # the solid interior transparent: not this term's business
    hard_wrong[:, 7, 7] = 10.0  # and a stray solid pixel in the background
    assert cost(hard_wrong) < 1e-3
    edge_gone = exact.clone()
    edge_gone[:, 1, 2:6] = -20.0  # the soft edge transparent: four pixels short of its alpha
    assert abs(cost(edge_gone) - 4 * float(alpha_target(torch.tensor(0.25), m))) < 1e-3
