"""The GPU levers, exercised on the CPU where they can be (bf16 autocast, channels_last, the fp16
bundle on ONNX Runtime's CPU provider, a CUDA provider that does not start), and on a GPU
only when one is there. No test needs a GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from assetvae.cli import main
from assetvae.export.graph import ALLOWED_OPS
from assetvae.plugin_api import DeviceError, Generator
from assetvae.train import amp_dtype, native_bf16

SMALL = ["--size", "32", "--latent", "8", "--width", "8", "--batch", "8", "--warmup", "1", "-q"]


def test_amp_modes():
    cpu = torch.device("cpu")
    # auto follows the hardware: bf16 where the CPU has bf16 instructions, fp32 elsewhere
    assert amp_dtype("auto", cpu) is (torch.bfloat16 if native_bf16(cpu) else None)
    assert amp_dtype("off", cpu) is None
    assert amp_dtype("bf16", cpu) is torch.bfloat16


def test_auto_amp_on_a_gpu_waits_for_a_batch_where_bf16_pays(monkeypatch):
    import assetvae.train as train_mod

    gpu = torch.device("cuda")  # only a name here: nothing is allocated on it
    monkeypatch.setattr(train_mod, "native_bf16", lambda device: True)
    monkeypatch.setattr(train_mod.torch.cuda, "is_bf16_supported", lambda: True)
    assert amp_dtype("auto", gpu, 32) is None  # launch-bound: fp32 trained 1.5x faster
    assert amp_dtype("auto", gpu, train_mod.CUDA_BF16_MIN_BATCH) is torch.bfloat16
    assert amp_dtype("bf16", gpu, 32) is torch.bfloat16  # asked for: always


def test_bf16_autocast_and_channels_last_train_and_export(tiny_plants, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "train",
            str(tiny_plants),
            "--out",
            str(run),
            "--epochs",
            "2",
            "--amp",
            "bf16",
            "--channels-last",
            "--device",
            "cpu",
            *SMALL,
        ],
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["val_loss"]) for row in rows)
    cfg = json.loads((run / "config.json").read_text())["train"]
    assert (cfg["amp"], cfg["channels_last"], cfg["compile"]) == ("bf16", True, False)
    r = CliRunner().invoke(main, ["export", str(run), "-o", str(tmp_path / "b.avae.onnx")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        main, ["train", str(tiny_plants), "--out", str(tmp_path / "x"), "--amp", "fp8", *SMALL]
    )
    assert r.exit_code == 2 and "'fp8' is not one of" in r.output


def test_fp16_bundle_stays_within_two_levels(trained_run, bundle, tmp_path):
    import onnx

    out = tmp_path / "half.avae.onnx"
    r = CliRunner().invoke(main, ["export", str(trained_run), "-o", str(out), "--fp16"])
    assert r.exit_code == 0, r.output
    assert "float16 within" in r.output
    model = onnx.load(str(out))
    kinds = {t.data_type for t in model.graph.initializer}
    assert onnx.TensorProto.FLOAT16 in kinds
    assert {n.op_type for n in model.graph.node} <= ALLOWED_OPS
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.stat().st_size < 0.7 * bundle.stat().st_size
    with Generator.load(out, device="cpu") as half, Generator.load(bundle, device="cpu") as full:
        export = half.manifest.export
        assert export["precision"] == "float16" and export["fp16_parity_max_abs_error"] <= 2
        assert export["fp16_parity_provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
        for cls in half.classes:
            a = half.variants(cls, range(16), seed=3, spread=1.2)
            b = full.variants(cls, range(16), seed=3, spread=1.2)
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
            assert np.array_equal(
                half.latents(cls, range(16), seed=3), full.latents(cls, range(16), seed=3)
            )


def test_a_cuda_provider_that_does_not_start_is_an_error(bundle, monkeypatch):
    import onnxruntime

    import assetvae.plugin_api.bundle as bundle_mod

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has a working CUDA provider")
    # As onnxruntime-gpu without the CUDA libraries: the provider is listed, but does not start.
    monkeypatch.setattr(
        bundle_mod.ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    with pytest.warns(UserWarning), pytest.raises(DeviceError, match="did not start"):
        Generator.load(bundle, device="cuda")
    with pytest.warns(UserWarning), Generator.load(bundle, device="auto") as gen:
        assert gen.provider == "CPUExecutionProvider"  # auto: the CPU is a fine answer


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_cuda_training_with_the_default_levers(tiny_plants, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        ["train", str(tiny_plants), "--out", str(run), "--epochs", "2", "--device", "cuda", *SMALL],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        main, ["export", str(run), "-o", str(tmp_path / "b.avae.onnx"), "--fp16"]
    )
    assert r.exit_code == 0, r.output
