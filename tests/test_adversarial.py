"""The adversarial step's pieces: augmentation the critic cannot see through, and VQGAN's
adaptive balance."""

from __future__ import annotations

import torch

from assetvae.adversarial import (
    Adversary,
    PatchDiscriminator,
    augment_params,
    balanced_backward,
    diff_augment,
    g_hinge_loss,
)
from assetvae.config import ModelConfig
from assetvae.losses import Batch, vae_loss
from assetvae.model import VAE


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


def test_balanced_backward_balances_gradients_at_the_last_layer():
    w = torch.randn(4, 3, requires_grad=True)
    x = torch.randn(8, 4)
    out = x @ w
    seen = out.detach().requires_grad_()
    lam = balanced_backward(3.0 * seen.pow(2).mean(), seen.pow(2).mean(), seen, out, w, 0.5, [w])
    assert abs(lam - 3.0) < 1e-3
    # the gradient is that of 3 rec + 0.5 * 3 * rec
    expected = torch.autograd.grad(4.5 * (x @ w).pow(2).mean(), w)[0]
    torch.testing.assert_close(w.grad, expected, rtol=1e-4, atol=0)  # lam's epsilon


def test_balanced_backward_gives_the_naive_steps_gradients():
    """Each loss backpropagated once must change nothing: the same balance and the same
    gradient on every weight as autograd.grad of each loss at the last layer, then backward
    of the weighted sum (the step before), with the patch loss, KL and texture noise on."""
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=16, latent_dim=4, width=8, texture_noise=2)
    model, critic = VAE(cfg), PatchDiscriminator(8).eval()  # eval: no power-iteration drift
    x = torch.rand(6, 4, 16, 16)
    noise = torch.randn(6, 4)
    params = augment_params(6, torch.Generator().manual_seed(1))

    def losses(detach: bool):
        logits, post = model(x, noise)
        seen = logits.detach().requires_grad_() if detach else logits
        b = Batch(seen, x, post, g=torch.Generator().manual_seed(2), alpha_margin=0.05)
        terms = vae_loss(b, "l1", {"swd": 0.15, "grad-grey": 1.0}, kl_w=0.5)
        adv = g_hinge_loss(critic(diff_augment(b.pred, params)))
        return terms.total, adv, seen, logits

    rec, adv, _, _ = losses(detach=False)
    last = model.decoder.last_weight
    g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0]
    g_adv = torch.autograd.grad(adv, last, retain_graph=True)[0]
    naive_lam = float(g_rec.norm() / (g_adv.norm() + 1e-4))
    (rec + 0.25 * naive_lam * adv).backward()
    naive = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    rec, adv, seen, logits = losses(detach=True)
    lam = balanced_backward(rec, adv, seen, logits, last, 0.25, list(model.parameters()))
    assert abs(lam - naive_lam) <= 1e-4 * naive_lam
    # Summing in another order moves each value by float32 rounding of the largest gradients,
    # so the absolute tolerance scales with them: a conv bias before GroupNorm has a gradient
    # that is zero but for that rounding.
    atol = 1e-6 * max(float(g.abs().max()) for g in naive.values())
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, naive[n], rtol=1e-4, atol=atol)


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
