"""Sub-clusters, the latent map and manifold grid."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from helpers import read_manifest_dict, write_with_manifest
from PIL import Image

from assetvae.cli import main
from assetvae.latent_model import choose_components, fit_class_model, kmeans
from assetvae.plugin_api import Generator, rng


def test_kmeans_recovers_separated_groups():
    r = np.random.default_rng(0)
    x = np.concatenate([r.normal(size=(15, 4)), r.normal(size=(15, 4)) + 10])
    _, labels = kmeans(x, 2)
    assert len(set(labels[:15])) == 1 and len(set(labels[15:])) == 1 and labels[0] != labels[-1]


def test_components_found_only_where_there_are_several_looks():
    r = np.random.default_rng(0)
    two_looks = np.concatenate([r.normal(size=(20, 32)), r.normal(size=(20, 32)) + 3.0])
    assert sorted(np.bincount(choose_components(two_looks))) == [20, 20]
    one_long_look = r.normal(size=(40, 32)) * np.r_[5.0, np.ones(31)]
    assert np.bincount(choose_components(one_long_look)).tolist() == [40]
    assert np.bincount(choose_components(r.normal(size=(8, 32)))).tolist() == [
        8
    ]  # too few to split
    cm = fit_class_model(
        two_looks, np.full_like(two_looks, 0.1), np.zeros(40, int), ["tree"], components=None
    )
    comps = cm[0].components
    assert len(comps) == 2 and sum(c.weight for c in comps) == 1.0
    assert (
        fit_class_model(two_looks, np.full_like(two_looks, 0.1), np.zeros(40, int), ["tree"])[
            0
        ].components
        == []
    )


def test_generator_picks_components_by_the_seed_stream(bundle, tmp_path):
    d = read_manifest_dict(bundle)
    pine = next(c for c in d["classes"] if c["name"] == "pine")
    dim = len(pine["centroid"])
    small = [[0.01 if i == j else 0.0 for j in range(dim)] for i in range(dim)]
    pine["components"] = [
        {"weight": 3.0, "centroid": [-3.0] * dim, "chol": small},
        {"weight": 1.0, "centroid": [3.0] * dim, "chol": small},
    ]
    gen = Generator.load(write_with_manifest(bundle, d, tmp_path / "comp.avae.onnx"))
    keys = list(range(400))
    z = gen.latents("pine", keys, seed=11, spread=1.0)
    side = (z.mean(axis=1) > 0).astype(int)
    assert np.array_equal(
        side, rng.choice_batch(11, keys, [3.0, 1.0])
    )  # the documented choice rule
    assert 0.18 < side.mean() < 0.32  # about a quarter from the weight-1 component
    z0 = gen.latents("pine", keys[:4], seed=11, spread=0.0)
    assert set(np.round(z0[:, 0], 3)) <= {-3.0, 3.0}  # spread 0: each variant's component prototype
    assert np.array_equal(
        gen.variants("pine", [7], seed=11), gen.variants("pine", [0, 7], seed=11)[1:]
    )


def test_latent_map_cli_redraws_figures(trained_run):
    r = CliRunner().invoke(main, ["latent-map", str(trained_run)])
    assert r.exit_code == 0, r.output
    fig = Image.open(trained_run / "previews" / "latent_map.png")
    grid = Image.open(trained_run / "previews" / "manifold.png")
    assert fig.size[0] > 400 and len(set(fig.getdata())) > 5
    assert grid.size[0] > 10 * 32 and len(set(grid.getdata())) > 20


def test_noise_spec_and_corruption():
    import torch

    from assetvae.corruption import corrupt, parse_noise
    from assetvae.errors import ConfigError

    assert parse_noise("salt-pepper:0.1") == ("salt-pepper", 0.1) and parse_noise(None) is None
    for bad in ("salt:0.1", "gaussian:abc", "gaussian:0", "gaussian:2"):
        try:
            parse_noise(bad)
            raise AssertionError(bad)
        except ConfigError as e:
            assert "salt-pepper:P" in str(e)
    x = torch.full((4, 4, 32, 32), 0.5)
    g = torch.Generator().manual_seed(0)
    sp = corrupt(x, "salt-pepper", 0.2, g)
    hit = (sp != 0.5).any(dim=1)
    assert 0.15 < hit.float().mean() < 0.25
    assert set(sp[:, 3][hit].unique().tolist()) <= {0.0, 1.0}  # whole pixels become salt or pepper
    ga = corrupt(x, "gaussian", 0.1, g)
    assert 0.08 < float((ga - x).std()) < 0.12 and ga.min() >= 0 and ga.max() <= 1


def test_denoising_run_encoder_export_like_and_reconstruct(tiny_plants, tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    r = runner.invoke(
        main,
        [
            "train",
            str(tiny_plants),
            "--out",
            str(run),
            "--epochs",
            "2",
            "--size",
            "32",
            "--latent",
            "8",
            "--width",
            "8",
            "--noise",
            "salt-pepper:0.1",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((run / "config.json").read_text())["train"]["noise"] == "salt-pepper:0.1"
    bundle = tmp_path / "p.avae.onnx"
    assert runner.invoke(main, ["export", str(run), "-o", str(bundle), "--encoder"]).exit_code == 0
    assert (tmp_path / "p.avae.encoder.onnx").is_file()
    gen = Generator.load(bundle)
    sprite = np.asarray(Image.open(sorted((tiny_plants / "pine").iterdir())[0]).convert("RGBA"))
    z = gen.encode([sprite])
    assert z.shape == (1, 8) and np.isfinite(z).all()
    # the runtime's encoder matches the torch encoder of the run
    import torch

    from assetvae.plugin_api.images import prepare_sprite
    from assetvae.rundir import reconstruct_with_run

    _, restore = reconstruct_with_run(run)
    fitted = prepare_sprite(sprite, 32)  # both sides get the sprite as the trainer saw it
    assert (
        np.abs(restore(fitted[None]).astype(int) - gen.reconstruct([fitted]).astype(int)).max() <= 2
    )
    like = gen.variants_like(sprite, range(4), seed=3, spread=0.5)
    assert like.shape == (4, 32, 32, 4)
    assert np.array_equal(like, gen.variants_like(sprite, range(4), seed=3, spread=0.5))
    assert np.array_equal(like[2:], gen.variants_like(sprite, [2, 3], seed=3, spread=0.5))
    assert np.array_equal(
        gen.variants_like(sprite, [0], seed=3, spread=0.0), gen.decode(z)
    )  # spread 0: the sprite's own latent
    assert gen.nearest_class(z[0]) in gen.classes
    del torch
    src = sorted((tiny_plants / "pine").iterdir())[0]
    sheet = tmp_path / "like.png"
    r = runner.invoke(
        main, ["sample", str(bundle), "--like", str(src), "-n", "4", "-o", str(sheet)]
    )
    assert r.exit_code == 0, r.output and sheet.is_file()
    for source in (run, bundle):
        out = tmp_path / f"restored_{source.name}"
        r = runner.invoke(main, ["reconstruct", str(source), str(src), "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert Image.open(out / src.name).size == (32, 32) and (out / "sheet.png").is_file()
    # a bundle without an encoder says what to do
    plain = tmp_path / "plain.avae.onnx"
    assert runner.invoke(main, ["export", str(run), "-o", str(plain)]).exit_code == 0
    r = runner.invoke(
        main, ["sample", str(plain), "--like", str(src), "-o", str(tmp_path / "x.png")]
    )
    assert r.exit_code == 2 and "--encoder" in r.output and not (tmp_path / "x.png").exists()


def test_discover_styles_in_a_flat_folder(tmp_path):
    from assetvae.datasets.demo import demo_images

    flat = tmp_path / "mixed"
    flat.mkdir()
    imgs = demo_images(per_class=8, seed=1, size=32)
    for cls in ("mushroom", "pine"):
        for i, im in enumerate(imgs[cls]):
            im.save(flat / f"{cls}{i}.png")
    run = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "train",
            str(flat),
            "--out",
            str(run),
            "--epochs",
            "2",
            "--size",
            "32",
            "--latent",
            "8",
            "--width",
            "8",
            "--discover",
            "2",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    cm = json.loads((run / "class_model.json").read_text())
    assert [c["name"] for c in cm] == ["style_0", "style_1"]
    assert sum(c["count"] for c in cm) >= 14 and cm[0]["count"] >= cm[1]["count"]
    assert (run / "previews" / "style_0.png").is_file() and (
        run / "previews" / "style_1.png"
    ).is_file()
    r = CliRunner().invoke(
        main, ["train", str(flat), "--out", str(tmp_path / "r2"), "--discover", "1", "-q"]
    )
    assert r.exit_code == 2 and "--discover 1 is out of range" in r.output


def test_exemplar_sampling_rule(bundle, tmp_path):
    d = read_manifest_dict(bundle)
    pine = next(c for c in d["classes"] if c["name"] == "pine")
    dim = len(pine["centroid"])
    ex = np.random.default_rng(0).normal(size=(5, dim))
    pine["exemplars"] = {"scale": 0.0, "centroids": ex.tolist()}
    path = write_with_manifest(bundle, d, tmp_path / "ex.avae.onnx")
    gen = Generator.load(path)
    keys = list(range(50))
    z = gen.latents("pine", keys, seed=4, spread=1.0)
    pick = rng.choice_batch(4, keys, np.ones(5))
    assert np.array_equal(
        z, ex[pick].astype(np.float32)
    )  # scale 0, spread 1: the exemplars themselves
    c = np.asarray(pine["centroid"], np.float32)
    assert np.array_equal(
        gen.latents("pine", keys[:3], seed=4, spread=0.0), np.repeat(c[None], 3, 0)
    )
    assert len(set(pick.tolist())) == 5
    pine["exemplars"] = {
        "scale": 0.5,
        "centroids": ex.tolist(),
        "prototype": 2,
    }  # spread 0: a real look
    gen = Generator.load(write_with_manifest(bundle, d, path))
    assert np.array_equal(
        gen.latents("pine", keys[:3], seed=4, spread=0.0),
        np.repeat(ex[2:3].astype(np.float32), 3, 0),
    )
    assert np.array_equal(
        gen.latents("pine", keys, seed=4, spread=1.0)[0],
        gen.latents("pine", keys[:1], seed=4, spread=1.0)[0],
    )
    # bad exemplar records are refused like any other manifest fault
    from assetvae.plugin_api import BundleError
    from assetvae.plugin_api.manifest import Manifest

    for bad in (
        {"scale": -1, "centroids": ex.tolist()},
        {"scale": 0.3, "centroids": [[1.0] * (dim - 1)]},
        {"scale": 0.3, "centroids": ex.tolist(), "prototype": 5},
        {"scale": 0.3, "centroids": []},
        {"scale": 0.3, "centroids": [[float("nan")] * dim]},
    ):
        pine["exemplars"] = bad
        try:
            Manifest.from_dict(json.loads(json.dumps(d)))
            raise AssertionError(bad)
        except BundleError:
            pass


def test_training_with_exemplars_exports_them(tiny_plants, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "train",
            str(tiny_plants),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--size",
            "32",
            "--latent",
            "8",
            "--width",
            "8",
            "--exemplars",
            "0.3",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    cm = json.loads((tmp_path / "run" / "class_model.json").read_text())
    assert all(
        c["exemplars"]["scale"] == 0.3 and len(c["exemplars"]["centroids"]) == c["count"]
        for c in cm
    )
    assert all(0 <= c["exemplars"]["prototype"] < c["count"] for c in cm)
