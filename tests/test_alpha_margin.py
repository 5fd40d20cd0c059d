"""The open alpha (model.open_alpha): a decoder can make exactly transparent and exactly solid
pixels, soft alpha keeps its value, and the bundle's graph does what torch does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assetvae.config import ALPHA_HAZE, ALPHA_MARGIN, ModelConfig, RunConfig, TrainConfig
from assetvae.errors import ConfigError
from assetvae.export.bundle import parity_check
from assetvae.export.graph import ALLOWED_OPS, decoder_graph
from assetvae.losses import RECON, Batch, recon_loss
from assetvae.model import VAE, alpha_target, open_alpha
from assetvae.plugin_api.layout import OutputLayout


def test_open_alpha_reaches_exact_zero_and_one_and_leaves_colour_alone():
    logits = torch.tensor([-8.0, -3.1, 0.0, 3.1, 8.0]).view(1, 1, 1, 5).expand(1, 4, 1, 5)
    rgba = open_alpha(torch.sigmoid(logits), 0.05)
    assert rgba[0, 3, 0].tolist()[:2] == [0.0, 0.0] and rgba[0, 3, 0].tolist()[3:] == [1.0, 1.0]
    assert abs(float(rgba[0, 3, 0, 2]) - 0.5) < 1e-6  # the middle stays where it was
    assert torch.equal(rgba[:, :3], torch.sigmoid(logits)[:, :3])
    # the plain sigmoid never gets there: a faint halo and a not-quite-solid inside
    plain = open_alpha(torch.sigmoid(logits), 0.0)
    assert 0 < float(plain[0, 3, 0, 0]) and float(plain[0, 3, 0, 4]) < 1


@pytest.mark.parametrize("margin", [0.0, 0.05, 0.2])
def test_alpha_target_is_what_open_alpha_turns_into_the_target(margin):
    alpha = torch.tensor([0.0, 0.01, 0.3, 0.5, 0.97, 1.0])
    t = alpha_target(alpha, margin)
    inner = (alpha > 0) & (alpha < 1)
    back = open_alpha(torch.cat([torch.zeros(3, 6), t[None]]).view(1, 4, 1, 6), margin)[0, 3, 0]
    assert torch.allclose(back[inner], alpha[inner], atol=1e-6)
    assert t[0] == 0 and t[-1] == 1  # the ends keep pushing the logit past the clip


def test_the_alpha_loss_is_at_its_minimum_where_open_alpha_gives_the_soft_target():
    """Soft edges and shadows are learnt at their own alpha, not pulled by the stretch."""
    target = torch.full((1, 4, 2, 2), 0.3)
    for margin, want in ((0.05, 0.3), (0.0, 0.3)):
        logit = torch.logit(alpha_target(torch.tensor(0.3), margin)).item()
        grads = []
        for d in (-0.05, 0.0, 0.05):
            lg = torch.full((1, 4, 2, 2), logit + d, requires_grad=True)
            loss = recon_loss(Batch(lg, target, alpha_margin=margin)).sum()
            (g,) = torch.autograd.grad(loss, lg)
            grads.append(float(g[:, 3].sum()))
        assert grads[0] < 0 < grads[2] and abs(grads[1]) < 1e-5
        rgba = open_alpha(torch.sigmoid(torch.full((1, 4, 1, 1), logit)), margin)
        assert abs(float(rgba[0, 3]) - want) < 1e-5


@pytest.mark.parametrize("recon", ["l1", "l1-alpha", "bce-alpha"])
def test_transparent_and_solid_targets_push_the_logit_past_the_clip(recon):
    """A pixel already clipped to exactly 0 (or 1) is pushed further out, never pulled back
    to the clip's edge, where half of a trained background would round to alpha 1/255."""
    m = 0.05
    edge = m / (1 + 2 * m)  # the sigmoid value open_alpha turns into exactly 0
    for target_alpha, s, sign in ((0.0, 0.5 * edge, 1.0), (1.0, 1 - 0.5 * edge, -1.0)):
        target = torch.full((1, 4, 2, 2), target_alpha)
        lg = torch.full((1, 4, 2, 2), float(torch.logit(torch.tensor(s))), requires_grad=True)
        rgba = open_alpha(torch.sigmoid(lg), m)
        assert torch.all(rgba[:, 3] == target_alpha)  # already exact
        loss = RECON[recon](Batch(lg, target, alpha_margin=m)).sum()
        (g,) = torch.autograd.grad(loss, lg)
        assert torch.all(sign * g[:, 3] > 0)  # gradient descent moves it away from the edge


def test_bundle_graph_matches_torch_and_outputs_exact_0_and_255():
    torch.manual_seed(0)
    vae = VAE(ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32)).eval()
    assert vae.decoder.alpha_margin == ALPHA_MARGIN
    with torch.no_grad():  # saturate: many logits past the clip either way
        for p in vae.decoder.parameters():
            p.mul_(3.0)
    z = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    graph = decoder_graph(vae.decoder, 8, 32, OutputLayout.UINT8_NHWC)
    assert {n.op_type for n in graph.graph.node} <= ALLOWED_OPS
    assert parity_check(vae.decoder, graph, z, OutputLayout.UINT8_NHWC) <= 1
    import onnxruntime as ort

    sess = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    alpha = sess.run(None, {"z": z})[0][..., 3]
    assert (alpha == 0).any() and (alpha == 255).any()


def test_a_palette_decoder_ignores_the_margin():
    vae = VAE(
        ModelConfig(image_size=16, latent_dim=8, width=8, palette=[[0, 0, 0, 0], [1, 0, 0, 1]])
    )
    assert vae.decoder.alpha_margin == 0.0


def test_configs_saved_before_the_margin_load_with_the_plain_sigmoid():
    d = RunConfig().to_dict()
    del d["model"]["alpha_margin"]
    assert RunConfig.from_dict(d).model.alpha_margin == 0.0
    assert RunConfig().model.alpha_margin is None  # decided from the data when training
    assert VAE(ModelConfig(image_size=32, width=8)).decoder.alpha_margin == ALPHA_MARGIN


def _sprites(halo: int) -> np.ndarray:
    """Ten 32-px discs of solid alpha, each ringed by `halo` px of alpha 3 and then 251."""
    yy, xx = np.mgrid[:32, :32]
    r = np.hypot(yy - 15.5, xx - 15.5)
    img = np.zeros((32, 32, 4), np.uint8)
    img[..., :3] = 200
    img[..., 3] = np.where(r < 8, 255, 0)
    if halo:
        img[..., 3] = np.where((r >= 8) & (r < 8 + halo), 251, img[..., 3])
        img[..., 3] = np.where((r >= 8 + halo) & (r < 8 + 2 * halo), 3, img[..., 3])
    return np.repeat(img[None], 10, axis=0)


def _data(images: np.ndarray):
    from assetvae.train import TrainData

    n = len(images)
    return TrainData(images, np.zeros(n, int), ["disc"], np.arange(n), np.arange(0), True, "x")


def test_haze_share_counts_faint_and_near_solid_visible_pixels():
    from assetvae.train import haze_share

    assert haze_share(_sprites(0)) == 0.0
    hazy = _sprites(2)
    a = hazy[..., 3]
    want = ((a == 3) | (a == 251)).sum() / (a > 0).sum()
    assert haze_share(hazy) == pytest.approx(want) and want > ALPHA_HAZE
    assert haze_share(np.zeros((2, 8, 8, 4), np.uint8)) == 0.0  # nothing visible


@pytest.mark.parametrize("halo, margin, said", [(0, ALPHA_MARGIN, "open"), (2, 0.0, "sigmoid")])
def test_the_margin_left_open_is_decided_from_the_art_and_said(halo, margin, said):
    from assetvae.train import resolve_alpha

    cfg, lines = RunConfig(), []
    resolve_alpha(cfg, _data(_sprites(halo)), lines.append)
    assert cfg.model.alpha_margin == margin
    assert len(lines) == 1 and lines[0].startswith("alpha:") and said in lines[0]


def test_a_margin_the_user_set_is_kept_and_a_palette_run_is_not_told():
    from assetvae.train import resolve_alpha

    cfg, lines = RunConfig(model=ModelConfig(alpha_margin=0.02)), []
    resolve_alpha(cfg, _data(_sprites(2)), lines.append)
    assert cfg.model.alpha_margin == 0.02 and lines == []
    cfg = RunConfig(train=TrainConfig(palette=64))
    resolve_alpha(cfg, _data(_sprites(2)), lines.append)
    assert cfg.model.alpha_margin == 0.0 and lines == []  # decided and recorded, not printed


def test_a_margin_out_of_range_is_refused():
    with pytest.raises(ConfigError, match="alpha margin"):
        ModelConfig(alpha_margin=0.4).validate()


def test_cli_refuses_a_bad_margin_in_one_line(tmp_path):
    from click.testing import CliRunner

    from assetvae.cli import main

    r = CliRunner().invoke(
        main, ["train", str(tmp_path), "--out", str(tmp_path / "r"), "--alpha-margin", "2"]
    )
    assert r.exit_code == 2 and "--alpha-margin" in r.output and "Traceback" not in r.output
