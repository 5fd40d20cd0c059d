"""The adversarial step: a small patch discriminator trained from scratch beside the VAE.

Pixel losses regress to the mean of what the decoder cannot predict, which is blur. A patch
discriminator judges local texture instead: each output logit sees a patch of about 1/4 of
the sprite and says whether it looks like real art. Only used in training; never exported.

A discriminator on 100-400 images overfits within minutes and then its gradients are noise
(the first version here, a fixed weight on reconstructions, cost 3.5 dB). What keeps it useful:

- differentiable augmentation of everything it sees, real and fake alike (translation by up
  to 1/8 of the size and a cutout of half the size; Zhao et al. 2020), so it cannot memorise;
- spectral norm on every layer instead of a normalisation, which bounds how sharp it gets;
- an adaptive weight (VQGAN, Esser et al. 2021): the adversarial gradient at the decoder's last
  layer is scaled to ``weight`` times the reconstruction gradient there, so one weight means
  the same on every set and at every stage of training, ramped in over a tenth of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .losses import premultiplied

RAMP = 0.1  # fraction of the run over which the weight rises from 0 once the critic joins in


class PatchDiscriminator(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(4, w, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1)),
            nn.LeakyReLU(0.2),
            spectral_norm(nn.Conv2d(4 * w, 1, 3, padding=1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits [N, 1, S/8, S/8] for RGBA images in [0, 1]."""
        # Premultiplied, so hidden colour under transparency is invisible to the critic too.
        return self.net(premultiplied(x) * 2 - 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """What feature matching compares: each hidden layer's activations, then the logits."""
        h, out = premultiplied(x) * 2 - 1, []
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                out.append(h)
        return [*out, h]


def augment_params(n: int, g: torch.Generator) -> torch.Tensor:
    """Per image: translation (dy, dx) and cutout centre (cy, cx), as fractions in [0, 1)."""
    return torch.rand(n, 4, generator=g)


def diff_augment(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Translation by up to 1/8 of the size (zero padding: transparent) and a cutout of half
    the size, per image; differentiable in x, so fakes are augmented where the gradient flows.
    """
    n, _, s, _ = x.shape
    m = max(1, s // 8)
    params = params.to(x.device)  # drawn from a CPU generator, so every device draws the same
    shift = (params[:, :2] * (2 * m + 1)).long().clamp(max=2 * m)  # 0..2m, m is no shift
    padded = F.pad(x, (m, m, m, m))
    ar = torch.arange(s, device=x.device)
    rows = shift[:, 0, None] + ar  # [N, S]
    cols = shift[:, 1, None] + ar
    x = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None]]
    x = x.permute(0, 3, 1, 2)  # advanced indexing put the channel last
    half = s // 2
    lo = (params[:, 2:] * (s - half + 1)).long().clamp(max=s - half)  # [N, 2]
    inside_y = (ar[None] >= lo[:, :1]) & (ar[None] < lo[:, :1] + half)
    inside_x = (ar[None] >= lo[:, 1:]) & (ar[None] < lo[:, 1:] + half)
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


def variant_latents(
    mean: torch.Tensor,
    logvar: torch.Tensor,
    labels: torch.Tensor,
    normals: torch.Tensor,
    uniforms: torch.Tensor,
    count: int,
    scale: float,
) -> torch.Tensor:
    """Latents for the critic's sampled fakes, drawn as the runtime draws variants, from one
    batch's posteriors (detached: the critic's verdict on them trains the decoder only).

    Row i < count: mean[i] + scale * ((mean[a] - mean[b]) / sqrt(2) + std[i] * normals[i]),
    a != b two images of row i's class in the batch picked by uniforms[i] ([N, 2] in [0, 1)).
    The difference of two draws from a class, over sqrt(2), has the covariance of the class's
    posterior means, so the step has the class latent model's covariance (latent_model: means'
    covariance plus posterior variance) as the variants' does at spread 1 (exemplar sampling:
    scale = the exemplar scale; the class Gaussian: 1). A class with one image in the batch
    gets the posterior part alone. [count, d]
    """
    mean, std = mean.detach(), (0.5 * logvar.detach()).exp()
    z = mean[:count] + scale * std[:count] * normals[:count]
    for i in range(count):
        members = (labels == labels[i]).nonzero().flatten()
        k = len(members)
        if k < 2:
            continue
        a = int(uniforms[i, 0] * k)
        b = int(uniforms[i, 1] * (k - 1))
        b += b >= a  # the other k - 1 members
        z[i] += scale * (mean[members[a]] - mean[members[b]]) / math.sqrt(2.0)
    return z


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return torch.relu(1 - real_logits).mean() + torch.relu(1 + fake_logits).mean()


def lecam_term(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, anchors: torch.Tensor
) -> torch.Tensor:
    """LeCam regularisation (Tseng et al. 2021, for GANs on little data): the critic's logits
    on real images are pulled toward the moving average of its logits on fakes and vice versa,
    anchors = (mean real logit, mean fake logit), so it cannot push them ever further apart
    on a few hundred images it has memorised."""
    return (real_logits - anchors[1]).pow(2).mean() + (fake_logits - anchors[0]).pow(2).mean()


def feature_match_term(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Feature matching (pix2pixHD, Wang et al. 2018; the VAE/GAN of Larsen et al. 2016 in
    spirit): the mean L1 distance between the critic's hidden activations on each
    reconstruction and on its own target, summed over the layers (the logits left out)."""
    return sum((f - r).abs().mean() for f, r in zip(fake[:-1], real[:-1], strict=True))


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def balanced_backward(
    rec: torch.Tensor,
    adv: torch.Tensor,
    seen: torch.Tensor,
    logits: torch.Tensor,
    last: torch.Tensor,
    weight: float,
    params: Sequence[torch.Tensor],
    reduce=None,
    scale: float = 1.0,
) -> float:
    """Backpropagate scale * (rec + weight * lam * adv) into params and return lam, VQGAN's
    balance: |grad of rec| / |grad of adv| at the decoder's last layer's weight ``last``.

    The losses are computed on ``seen``, a detached copy of the decoder's ``logits`` that
    requires grad, so each loss is taken back to the logits once; the balance is read at the
    last layer from there (one convolution's backward each), and the model is backpropagated
    once with the combined gradient, plus whatever else rec depends on (the KL of the
    posterior). Taking both losses back to the last layer and then backpropagating their sum,
    as this step once did, ran the patch losses' and the critic's backward twice. reduce:
    makes a process's gradient at the last layer the whole batch's when several train (DDP).
    """
    (g_rec,) = torch.autograd.grad(rec, seen, retain_graph=True)
    (g_adv,) = torch.autograd.grad(adv, seen)

    def at_last(g: torch.Tensor) -> torch.Tensor:
        w = torch.autograd.grad(logits, last, grad_outputs=g, retain_graph=True)[0]
        return reduce(w) if reduce is not None else w

    lam = (at_last(g_rec).norm() / (at_last(g_adv).norm() + 1e-4)).clamp(0.0, 1e4)
    # inputs=params: the loss terms' graph hangs off `seen`, a leaf outside the model, so the
    # engine skips it; only rec's other paths (the KL) are walked again.
    torch.autograd.backward(
        [logits, rec],
        [(g_rec + (weight * lam) * g_adv) * scale, torch.full_like(rec, scale)],
        inputs=list(params),
    )
    return float(lam)


class Adversary:
    """The discriminator, its optimiser and its own random stream, with the two halves of an
    adversarial step."""

    LECAM_DECAY = 0.99  # the anchors' moving average (the paper's)

    def __init__(
        self,
        weight: float,
        lr: float,
        device: torch.device,
        seed: int,
        wrap=None,
        lecam: float = 0.0,
        match: float = 0.0,
    ):
        self.weight, self.lecam, self.match = weight, lecam, match
        # LeCam's anchors: moving averages of the mean logit on real images and on fakes.
        self.anchors = torch.zeros(2)
        self.disc = PatchDiscriminator().to(device)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.9))
        # Its own stream (saved with the checkpoint), so the trainer's draws stay as they are.
        self.g = torch.Generator().manual_seed(seed + 7919)
        # Several processes (assetvae/distributed.py): the critic is DDP-wrapped too, so its
        # gradients are averaged and every process keeps the same critic.
        self.shared = wrap is not None
        self.critic = wrap(self.disc) if self.shared else self.disc

    def draw(self, n: int) -> torch.Tensor:
        """Augmentation parameters for a (global) batch of n; slice them like the batch."""
        return augment_params(n, self.g)

    def generator_loss(
        self, fake: torch.Tensor, params: torch.Tensor, real: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The critic's hinge loss for these fakes (RGBA in [0, 1]), unweighted: the step
        weighs it against the reconstruction with balanced_backward. The bare critic, not the
        DDP-wrapped one: only the gradient at the fakes is wanted, and a DDP forward would
        wait for a backward into the critic's weights that never comes. real: the targets of
        the first len(real) fakes (reconstructions), for feature matching when it is on."""
        if not (self.match and real is not None):
            return g_hinge_loss(self.disc(diff_augment(fake, params)))
        # One pass over fakes and targets (the same critic normalisation for both), each
        # target augmented as its reconstruction, so each pair's features line up.
        m, n = len(fake), len(real)
        both = torch.cat([fake, real.to(fake.dtype)])
        feats = self.disc.features(diff_augment(both, torch.cat([params, params[:n]])))
        mine = [f[:n] for f in feats]
        want = [f[m:].detach() for f in feats]
        return g_hinge_loss(feats[-1][:m]) + self.match * feature_match_term(mine, want)

    def update(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        params: torch.Tensor,
        share: float = 1.0,
        fake_params: torch.Tensor | None = None,
    ) -> float:
        """One discriminator step on real images and (detached) fakes; returns its loss.
        share: this process's weight when several average their gradients (DDP). fake_params:
        the fakes' augmentations when there are more fakes than real images (sampled fakes)."""
        fake_params = params if fake_params is None else fake_params
        real, fake = diff_augment(real, params), diff_augment(fake.detach(), fake_params)
        if self.shared:  # one forward per backward, as DDP wants: real and fake in one batch
            logits = self.critic(torch.cat([real, fake]))
            real_logits, fake_logits = logits[: len(real)], logits[len(real) :]
        else:
            real_logits, fake_logits = self.disc(real), self.disc(fake)
        loss = d_hinge_loss(real_logits, fake_logits)
        if self.lecam:
            means = torch.stack([real_logits.detach().mean(), fake_logits.detach().mean()])
            self.anchors.lerp_(means.float().cpu(), 1.0 - self.LECAM_DECAY)
            anchors = self.anchors.to(real_logits.device, real_logits.dtype)
            loss = loss + self.lecam * lecam_term(real_logits, fake_logits, anchors)
        self.opt.zero_grad(set_to_none=True)
        (loss * share if self.shared else loss).backward()
        self.opt.step()
        return float(loss.detach())

    def state_dict(self) -> dict:
        return {
            "discriminator": self.disc.state_dict(),
            "d_optimizer": self.opt.state_dict(),
            "d_generator": self.g.get_state(),
            "d_lecam_anchors": self.anchors.clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        if "d_generator" not in state:  # a critic of before 0.3 (other layers): start afresh
            return
        self.disc.load_state_dict(state["discriminator"])
        self.opt.load_state_dict(state["d_optimizer"])
        self.g.set_state(state["d_generator"])
        if "d_lecam_anchors" in state:  # a checkpoint from before LeCam's anchors: zeros
            self.anchors = state["d_lecam_anchors"].float().cpu().clone()
