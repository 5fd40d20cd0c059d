"""Export (graph, manifest, parity) and the torch-free runtime, including determinism."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from PIL import Image

from assetvae.cli import main
from assetvae.export.bundle import export_bundle
from assetvae.export.graph import ALLOWED_OPS, OPSET
from assetvae.plugin_api import BundleError, Generator, SamplingError, read_manifest
from assetvae.plugin_api.layout import OutputLayout
from assetvae.plugin_api.manifest import FORMAT_VERSION, METADATA_KEY


def test_graph_is_plain_opset13_with_allowed_ops_only(bundle):
    m = onnx.load(str(bundle))
    onnx.checker.check_model(m, full_check=True)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    ops = {n.op_type for n in m.graph.node}
    assert ops <= ALLOWED_OPS, ops - ALLOWED_OPS
    (inp,), (out,) = m.graph.input, m.graph.output
    assert inp.name == "z" and out.name == "image"
    assert out.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert dims == ["N", 32, 32, 4]  # N the only symbolic dimension
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in m.graph.initializer)


def test_manifest_is_in_metadata_and_complete(bundle):
    import onnxruntime as ort

    meta = ort.InferenceSession(str(bundle)).get_modelmeta().custom_metadata_map
    d = json.loads(meta[METADATA_KEY])
    assert d["format"] == "assetvae-bundle" and d["version"] == FORMAT_VERSION
    assert d["image_size"] == 32 and d["latent_dim"] == 8 and d["channels"] == 4
    assert [c["name"] for c in d["classes"]] == ["cactus", "mushroom", "pine"]
    assert d["export"]["parity_max_abs_error"] <= 1 and d["export"]["parity_samples"] >= 64
    assert d["training"]["epochs"] == 2 and d["training"]["dataset_fingerprint"]
    assert d["training"]["config"]["model"]["latent_dim"] == 8  # the run can be rebuilt
    assert d["rng"] == "assetvae-splitmix-polar-v1"


def test_runtime_matches_torch_decoder(bundle, trained_run):
    import torch

    from assetvae.model import to_uint8
    from assetvae.rundir import load_model

    vae, _ = load_model(trained_run)
    gen = Generator.load(bundle, device="cpu")
    z = gen.latents("pine", range(32), seed=5, spread=1.2)
    with torch.no_grad():
        ref = to_uint8(vae.eval().decode(torch.from_numpy(z)))
    got = gen.decode(z)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


def test_generator_api(bundle):
    gen = Generator.load(bundle)
    assert gen.classes == ["cactus", "mushroom", "pine"]
    assert gen.image_size == 32 and gen.latent_dim == 8
    assert gen.provider == "CPUExecutionProvider"
    imgs = gen.sample("pine", 5, seed=7, spread=0.6)
    assert imgs.shape == (5, 32, 32, 4) and imgs.dtype == np.uint8
    assert np.array_equal(imgs, gen.variants("pine", range(5), seed=7, spread=0.6))  # keys 0..4
    assert np.array_equal(gen.sample("pine", 2), gen.variants("pine", [0, 1], seed=0))  # seed 0
    assert gen.sample("pine", 0).shape == (0, 32, 32, 4)
    from assetvae.plugin_api import to_pil

    pils = to_pil(imgs)
    assert len(pils) == 5 and pils[0].mode == "RGBA" and pils[0].size == (32, 32)


def test_spread_zero_is_the_prototype_and_spread_grows_variety(bundle):
    gen = Generator.load(bundle)
    z0 = gen.latents("mushroom", range(6), seed=1, spread=0.0)
    assert np.array_equal(z0, np.repeat(z0[:1], 6, 0))  # every key: the one prototype
    assert np.array_equal(gen.decode(z0[:1]), gen.prototype("mushroom"))
    c = next(c for c in gen.manifest.classes if c.name == "mushroom").centroid.astype(np.float32)
    assert np.array_equal(z0[0], c)  # a class Gaussian's prototype is its centroid
    spreads = [
        np.std(gen.latents("mushroom", range(200), seed=1, spread=s), axis=0).mean()
        for s in (0.5, 1.0, 2.0)
    ]
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[2] / spreads[0] == pytest.approx(4.0, rel=1e-3)


def test_truncation_bounds_the_noise(bundle):
    gen = Generator.load(bundle)
    c = gen.manifest.classes[0]
    z = gen.latents(c.name, range(500), seed=3, spread=1.0, truncation=0.5)
    n = np.linalg.solve(c.chol, (z.astype(np.float64) - c.centroid).T).T
    assert np.abs(n).max() <= 0.5 + 1e-4


def test_same_seed_and_key_same_pixels_in_any_batch_and_order(bundle):
    gen = Generator.load(bundle)
    keys = [0, 5, "forest/tree/17", 2**64 - 1, "forêt/木/3", 99]
    alone = np.stack([gen.variants("pine", [k], seed=42, spread=0.7)[0] for k in keys])
    batch = gen.variants("pine", keys, seed=42, spread=0.7)
    assert np.array_equal(alone, batch)
    order = [3, 1, 5, 0, 2, 4]
    shuffled = gen.variants("pine", [keys[i] for i in order], seed=42, spread=0.7)
    assert np.array_equal(shuffled, batch[order])
    big = gen.variants("pine", list(range(300)) + keys, seed=42, spread=0.7)  # crosses a chunk
    assert np.array_equal(big[300:], batch)
    # different keys give different props; different seeds too
    assert len({a.tobytes() for a in batch}) == len(keys)
    assert not np.array_equal(gen.variants("pine", keys, seed=43, spread=0.7), batch)


def test_same_pixels_in_separate_processes_and_thread_counts(bundle):
    script = textwrap.dedent(f"""
        import hashlib, sys
        from assetvae.plugin_api import Generator
        g = Generator.load({str(bundle)!r}, device="cpu", threads=int(sys.argv[1]))
        imgs = g.variants("cactus", list(range(40)) + ["oak/7"], seed=1234, spread=0.9)
        assert 'torch' not in sys.modules
        print(hashlib.sha256(imgs.tobytes()).hexdigest())
    """)
    digests = {
        subprocess.run(
            [sys.executable, "-c", script, str(t)], capture_output=True, text=True, check=True
        ).stdout.strip()
        for t in (1, 2, 1)
    }
    assert len(digests) == 1
    with Generator.load(bundle, threads=2) as g:
        here = g.variants("cactus", list(range(40)) + ["oak/7"], seed=1234, spread=0.9)
    import hashlib

    assert hashlib.sha256(here.tobytes()).hexdigest() in digests


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: g.sample("pinee", 2), "did you mean 'pine'"),
        (lambda g: g.sample("pine", 2, spread=-1), "spread -1 is out of range"),
        (lambda g: g.sample("pine", 2, spread=float("nan")), "spread nan is out of range"),
        (lambda g: g.sample("pine", -1), "n=-1 is out of range"),
        (lambda g: g.sample("pine", 10**9), "out of range"),
        (lambda g: g.sample("pine", 2, seed=2**64), "seed"),
        (lambda g: g.sample("pine", 2, seed=-1), "seed"),
        (lambda g: g.variants("pine", [-5], seed=0), "key"),
        (lambda g: g.variants("pine", 3, seed=0), r"write range\(3\)"),  # keys, not a count
        (lambda g: g.blend("pine", "cactus", 0.5, 4, seed=0), r"write range\(4\)"),
        (lambda g: g.decode(np.zeros((2, 3), np.float32)), "shape"),
        (lambda g: g.decode(np.full((1, 8), np.nan, np.float32)), "NaN"),
    ],
)
def test_bad_requests_raise_sampling_error(bundle, call, message):
    gen = Generator.load(bundle)
    with pytest.raises(SamplingError, match=message):
        call(gen)


def test_blend_interpolates_between_classes(bundle):
    gen = Generator.load(bundle)
    a = gen.blend_latents("pine", "cactus", 0.0, range(4), seed=3, spread=0.5)
    b = gen.blend_latents("pine", "cactus", 1.0, range(4), seed=3, spread=0.5)
    assert np.array_equal(a, gen.latents("pine", range(4), seed=3, spread=0.5))
    assert np.allclose(b, gen.latents("cactus", range(4), seed=3, spread=0.5), atol=1e-6)
    half = gen.blend("pine", "cactus", 0.5, range(3), seed=0)
    assert half.shape == (3, 32, 32, 4)
    z = gen.blend_latents("pine", "cactus", 0.5, range(3), seed=0)
    assert np.array_equal(half, gen.decode(z))
    with pytest.raises(SamplingError, match="blend amount"):
        gen.blend("pine", "cactus", 1.5, [0], seed=0)


def test_not_a_bundle_and_newer_version_are_refused(bundle, tmp_path):
    txt = tmp_path / "x.avae.onnx"
    txt.write_text("hello")
    with pytest.raises(BundleError, match="not a valid ONNX bundle"):
        Generator.load(txt)
    m = onnx.load(str(bundle))
    d = json.loads(next(p.value for p in m.metadata_props if p.key == METADATA_KEY))
    d["version"] = "2.0"
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(d)})
    newer = tmp_path / "newer.avae.onnx"
    onnx.save(m, str(newer))
    with pytest.raises(BundleError, match="newer than this runtime supports"):
        Generator.load(newer)
    d["version"] = "1.7"
    d["future_field"] = {"x": 1}  # a newer minor version with unknown fields still loads
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(d)})
    onnx.save(m, str(newer))
    assert Generator.load(newer).classes == ["cactus", "mushroom", "pine"]
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "bare.onnx"))
    with pytest.raises(BundleError, match="not an assetvae bundle"):
        Generator.load(tmp_path / "bare.onnx")


def test_latent_size_disagreeing_with_graph_is_refused(bundle, tmp_path):
    m = onnx.load(str(bundle))
    d = json.loads(next(p.value for p in m.metadata_props if p.key == METADATA_KEY))
    d["latent_dim"] = 9
    for c in d["classes"]:
        c["centroid"] = c["centroid"] + [0.0]
        c["chol"] = [row + [0.0] for row in c["chol"]] + [[0.0] * 8 + [1.0]]
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(d)})
    onnx.save(m, str(tmp_path / "bad.avae.onnx"))
    with pytest.raises(BundleError, match="latent size 9"):
        Generator.load(tmp_path / "bad.avae.onnx")


def test_sidecar_manifest_and_float_output(trained_run, tmp_path):
    out = tmp_path / "f.avae.onnx"
    export_bundle(trained_run, out, sidecar=True, output=OutputLayout.FLOAT32_NCHW)
    side = tmp_path / "f.avae.json"
    assert json.loads(side.read_text())["graph_sha256"]
    # Strip the metadata: the runtime falls back to the sidecar, which names this graph.
    m = onnx.load(str(out))
    del m.metadata_props[:]
    onnx.save(m, str(out))
    with pytest.raises(BundleError, match="hash mismatch"):
        Generator.load(out)
    d = json.loads(side.read_text())
    import hashlib

    d["graph_sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
    side.write_text(json.dumps(d))
    gen = Generator.load(out)
    assert gen.manifest.output is OutputLayout.FLOAT32_NCHW
    imgs = gen.sample("pine", 3, seed=1)
    assert imgs.dtype == np.uint8 and imgs.shape == (3, 32, 32, 4)
    # the same weights as a uint8 bundle: the runtime's conversion matches the graph's to 1 level
    export_bundle(trained_run, tmp_path / "u.avae.onnx")
    plain = Generator.load(tmp_path / "u.avae.onnx")
    assert plain.manifest.output is OutputLayout.UINT8_NHWC
    diff = imgs.astype(int) - plain.sample("pine", 3, seed=1).astype(int)
    assert np.abs(diff).max() <= 1


def test_cli_export_inspect_sample(trained_run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "p.avae.onnx"
    r = runner.invoke(main, ["export", str(trained_run), "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["inspect", str(out)])
    assert r.exit_code == 0 and "pine (" in r.output and "parity_max_abs_error" in r.output
    r = runner.invoke(main, ["inspect", str(out), "--json"])
    info = json.loads(r.output)
    assert info["latent_dim"] == 8 and set(info["classes"]) == {"cactus", "mushroom", "pine"}
    sheet = tmp_path / "sheet.png"
    args = [
        "sample",
        str(out),
        "--class",
        "pine",
        "--class",
        "cactus",
        "-n",
        "6",
        "--spread",
        "0.6",
        "--seed",
        "7",
        "-o",
        str(sheet),
    ]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    first = sheet.read_bytes()
    assert Image.open(sheet).size[1] > 2 * 32
    assert runner.invoke(main, args).exit_code == 0
    assert sheet.read_bytes() == first  # the same sheet twice
    r = runner.invoke(main, ["sample", str(out), "--class", "oak", "-o", str(tmp_path / "s2.png")])
    assert r.exit_code == 2 and "unknown class 'oak'" in r.output
    assert not (tmp_path / "s2.png").exists()
    r = runner.invoke(main, ["inspect", str(tmp_path / "missing.onnx")])
    assert r.exit_code == 2 and "no such bundle" in r.output


def test_read_manifest_matches_generator(bundle):
    assert read_manifest(bundle).to_dict() == Generator.load(bundle).manifest.to_dict()


def test_batch_norm_is_folded_into_the_convolutions():
    import torch

    from assetvae.config import ModelConfig
    from assetvae.export.bundle import parity_check
    from assetvae.export.graph import decoder_graph
    from assetvae.model import VAE

    vae = VAE(ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32, decoder_norm=True))
    g = torch.Generator().manual_seed(0)
    for m in vae.decoder.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial statistics, as after training
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    vae.eval()
    graph = decoder_graph(vae.decoder, 8, 32)
    assert "BatchNormalization" not in {n.op_type for n in graph.graph.node}
    z = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    assert parity_check(vae.decoder, graph, z, OutputLayout.UINT8_NHWC) <= 1


def test_exporting_twice_gives_identical_bytes(trained_run, tmp_path):
    a, b = tmp_path / "a.avae.onnx", tmp_path / "b.avae.onnx"
    export_bundle(trained_run, a)
    export_bundle(trained_run, b)
    assert a.read_bytes() == b.read_bytes()
    assert "elapsed_s" not in read_manifest(a).training["final_metrics"]
