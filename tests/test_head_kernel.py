"""The decoder's last convolution can be 1x1 (--head-kernel 1): it trains, exports with the
same pixels as torch, costs a palette decoder a ninth of the 3x3 head, and saved runs keep
their 3x3 head."""

from __future__ import annotations

import onnx
import torch
from click.testing import CliRunner

from assetvae.cli import main
from assetvae.config import ModelConfig, RunConfig
from assetvae.model import VAE


def _head_weights(cfg: ModelConfig) -> torch.Tensor:
    return VAE(cfg).decoder.net[-1].conv.weight


def test_a_1x1_head_costs_a_ninth_of_the_3x3_one():
    pal = [[0.0, 0.0, 0.0, 0.0]] + [[i / 40, 0.5, 0.2, 1.0] for i in range(39)]
    cfg = ModelConfig(image_size=16, latent_dim=8, width=8, palette=pal)
    three, one = _head_weights(cfg), _head_weights(ModelConfig(**{**vars(cfg), "head_kernel": 1}))
    assert three.shape == (40, 8, 3, 3) and one.shape == (40, 8, 1, 1)
    assert three.numel() == 9 * one.numel()


def test_saved_configs_keep_the_3x3_head_and_other_kernels_are_refused(tmp_path):
    old = RunConfig().to_dict()
    del old["model"]["head_kernel"]  # saved before the field existed
    assert RunConfig.from_dict(old).model.head_kernel == 3
    r = CliRunner().invoke(
        main, ["train", str(tmp_path), "--out", str(tmp_path / "run"), "--head-kernel", "5"]
    )
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "--head-kernel 5 is not supported: use 1 or 3" in r.output


def test_cli_trains_and_exports_a_palette_decoder_with_a_1x1_head(tmp_path):
    from assetvae.datasets.demo import write_demo_folder
    from assetvae.export.bundle import export_bundle
    from assetvae.plugin_api import Generator
    from assetvae.rundir import load_checkpoint

    data, run, out = tmp_path / "pixel", tmp_path / "run", tmp_path / "b.avae.onnx"
    write_demo_folder(data, per_class=3, seed=2, style="pixel")
    args = ["--epochs", "1", "--batch", "16", "--palette", "16", "--latent", "8", "--width", "8"]
    r = CliRunner().invoke(
        main, ["train", str(data), "--out", str(run), *args, "--head-kernel", "1", "-q"]
    )
    assert r.exit_code == 0, r.output
    state = load_checkpoint(run)
    assert state["config"].model.head_kernel == 1
    last = [k for k in state["model"] if k.endswith("conv.weight")][-1]
    assert tuple(state["model"][last].shape[2:]) == (1, 1)
    rep = export_bundle(run, out)
    assert rep.parity_max_abs <= 1  # the graph draws what torch draws, to a uint8 level
    shapes = {tuple(i.dims) for i in onnx.load(out).graph.initializer}
    assert (16, 8, 1, 1) in shapes and (16, 8, 3, 3) not in shapes  # the head, 1x1
    with Generator.load(out) as gen:
        assert gen.sample(gen.classes[0], 2, seed=1).shape == (2, 64, 64, 4)
