"""The adversarial step's pieces: augmentation the critic cannot see through, and VQGAN's
adaptive balance."""

from __future__ import annotations

import torch

from assetvae.adversarial import Adversary, adaptive_weight, augment_params, diff_augment


def test_diff_augment_translates_and_cuts_out_and_lets_gradients_through():
    x = torch.rand(3, 4, 16, 16, requires_grad=True)
    centre = torch.tensor([[0.5, 0.5, 0.0, 0.0]]).expand(3, 4)  # no shift; cutout at top left
    out = diff_augment(x, centre)
    assert torch.equal(out[..., :8, :8], torch.zeros(3, 4, 8, 8))
    assert torch.equal(out[..., 8:, :], x[..., 8:, :])
    shifted = diff_augment(x, torch.tensor([[0.99, 0.0, 0.99, 0.99]]).expand(3, 4))
    # the largest shifts: down-up by +2 rows (the content moves up), and +(-2) columns
    assert torch.equal(shifted[:, :, :6, 2:8], x[:, :, 2:8, :6])
    shifted.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_diff_augment_takes_cpu_params_for_images_on_another_device():
    # The critic's augmentations come from a CPU generator; the images may live on a GPU. The
    # meta device stands in for one here: mixing it with CPU tensors fails as CUDA does.
    x = torch.empty(3, 4, 16, 16, device="meta")
    out = diff_augment(x, augment_params(3, torch.Generator().manual_seed(0)))
    assert out.shape == x.shape and out.device.type == "meta"


def test_augment_params_are_fractions_per_image():
    p = augment_params(5, torch.Generator().manual_seed(0))
    assert p.shape == (5, 4) and float(p.min()) >= 0 and float(p.max()) < 1


def test_adaptive_weight_balances_gradients_at_the_last_layer():
    w = torch.randn(4, 3, requires_grad=True)
    x = torch.randn(8, 4)
    rec = (x @ w).pow(2).mean()
    lam = adaptive_weight(3.0 * rec, rec, w)
    assert abs(float(lam) - 3.0) < 1e-3


def test_adversary_round_trips_its_state_and_skips_an_old_critic():
    a = Adversary(0.5, 1e-3, torch.device("cpu"), seed=1)
    a.draw(4)
    state = a.state_dict()
    b = Adversary(0.5, 1e-3, torch.device("cpu"), seed=1)
    b.load_state_dict(state)
    assert torch.equal(a.draw(3), b.draw(3))  # the random stream continues where it was
    c = Adversary(0.5, 1e-3, torch.device("cpu"), seed=1)
    c.load_state_dict({"discriminator": {"old": torch.zeros(1)}, "d_optimizer": {}})
    assert torch.equal(c.draw(2), Adversary(0.5, 1e-3, torch.device("cpu"), 1).draw(2))
