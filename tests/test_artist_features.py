"""Sub-clusters, the latent map and manifold grid."""

from __future__ import annotations

import json

import numpy as np
import onnx
from click.testing import CliRunner
from PIL import Image

from assetvae.cli import main
from assetvae.latent_model import choose_components, fit_class_model, kmeans
from assetvae.plugin_api import Generator, rng
from assetvae.plugin_api.manifest import METADATA_KEY


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
    assert np.bincount(choose_components(r.normal(size=(8, 32)))).tolist() == [8]  # too few to split
    cm = fit_class_model(two_looks, np.full_like(two_looks, 0.1), np.zeros(40, int), ["tree"], components=None)
    comps = cm[0].components
    assert len(comps) == 2 and sum(c.weight for c in comps) == 1.0
    assert fit_class_model(two_looks, np.full_like(two_looks, 0.1), np.zeros(40, int), ["tree"])[0].components == []


def test_generator_picks_components_by_the_seed_stream(bundle, tmp_path):
    m = onnx.load(str(bundle))
    d = json.loads(next(p.value for p in m.metadata_props if p.key == METADATA_KEY))
    pine = next(c for c in d["classes"] if c["name"] == "pine")
    dim = len(pine["centroid"])
    small = [[0.01 if i == j else 0.0 for j in range(dim)] for i in range(dim)]
    pine["components"] = [
        {"weight": 3.0, "centroid": [-3.0] * dim, "chol": small},
        {"weight": 1.0, "centroid": [3.0] * dim, "chol": small},
    ]
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, {METADATA_KEY: json.dumps(d)})
    path = tmp_path / "comp.avae.onnx"
    onnx.save(m, str(path))
    gen = Generator.load(path)
    keys = list(range(400))
    z = gen.latents(11, keys, "pine", spread=1.0)
    side = (z.mean(axis=1) > 0).astype(int)
    assert np.array_equal(side, rng.choice_batch(11, keys, [3.0, 1.0]))  # the documented choice rule
    assert 0.18 < side.mean() < 0.32  # about a quarter from the weight-1 component
    z0 = gen.latents(11, keys[:4], "pine", spread=0.0)
    assert set(np.round(z0[:, 0], 3)) <= {-3.0, 3.0}  # spread 0: each variant's component prototype
    assert np.array_equal(gen.variants(11, [7], "pine"), gen.variants(11, [0, 7], "pine")[1:])


def test_latent_map_cli_redraws_figures(trained_run):
    r = CliRunner().invoke(main, ["latent-map", str(trained_run)])
    assert r.exit_code == 0, r.output
    fig = Image.open(trained_run / "previews" / "latent_map.png")
    grid = Image.open(trained_run / "previews" / "manifold.png")
    assert fig.size[0] > 400 and len(set(fig.getdata())) > 5
    assert grid.size[0] > 10 * 32 and len(set(grid.getdata())) > 20
