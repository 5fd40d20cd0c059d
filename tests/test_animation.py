"""Animated variants out: the per-animation latent model, its sampling rule, the bundle's 1.2
records, Generator.animation, and the CLI (a grid sheet, a TexturePacker atlas and an Aseprite
export each train; sample --animation writes APNG + GIF + a frame strip; bake --animation
writes frameTags that engines play)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_sheets import frame, save, strip

from assetvae.animation_model import FrameLatents, fit_animations, resample
from assetvae.datasets.sheets import FrameRef
from assetvae.plugin_api import rng, sampling
from assetvae.plugin_api.errors import BundleError, SamplingError
from assetvae.plugin_api.manifest import (
    FORMAT_VERSION,
    AnimationLatent,
    ClassLatent,
    Manifest,
    class_from_dict,
    class_to_dict,
)

D = 4


def _class(seed: int = 0) -> ClassLatent:
    r = np.random.default_rng(seed)
    a = r.standard_normal((D, D)) * 0.3
    chol = np.linalg.cholesky(a @ a.T + 0.1 * np.eye(D))
    return ClassLatent("droid", 10, r.standard_normal(D), chol)


def _anim(c: ClassLatent, m: int = 3, f: int = 5, seed: int = 1) -> AnimationLatent:
    r = np.random.default_rng(seed)
    off = r.standard_normal((m, f, D))
    off -= off.mean(axis=1, keepdims=True)
    return AnimationLatent(
        "walk",
        c.centroid + r.standard_normal((m, D)),
        off,
        prototype=1,
        scale=0.3,
        durations=[80] * f,
        direction="pingpong",
        sources=[f"s{i}" for i in range(m)],
    )


# --- the latent model ------------------------------------------------------------------------
def test_fit_animations_recovers_means_and_offsets():
    c = _class()
    r = np.random.default_rng(2)
    motion = r.standard_normal((4, D))
    means, labels, refs = [], [], []
    idents = r.standard_normal((3, D)) * 3
    for k, ident in enumerate(idents):
        n = 4 if k < 2 else 8  # the third instance has twice the frames: resampled to 4
        for i in range(n):
            means.append(ident + motion[(i * 4) // n])
            labels.append(0)
            refs.append(FrameRef(f"sheet{k}", "walk", i, 90, "reverse"))
    means.append(np.zeros(D)), labels.append(0), refs.append(FrameRef("x", "blink", 0))  # 1 frame
    fit_animations(FrameLatents(np.asarray(means), np.asarray(labels), refs), [c], 0.25)
    (a,) = c.animations  # a one-frame "animation" is no animation
    assert a.name == "walk" and a.frames == 4 and a.scale == 0.25
    assert a.sources == ["sheet0", "sheet1", "sheet2"] and a.direction == "reverse"
    assert a.durations == [90] * 4
    np.testing.assert_allclose(a.means, idents + motion.mean(axis=0), atol=1e-12)
    for k in range(3):
        np.testing.assert_allclose(a.offsets[k], motion - motion.mean(axis=0), atol=1e-12)
    assert resample(8, 4).tolist() == [0, 2, 4, 6] and resample(3, 5).tolist() == [0, 0, 1, 1, 2]


# --- the sampling rule -------------------------------------------------------------------------
def test_animation_rule_is_the_exemplar_rule_per_frame_with_one_noise():
    c = _class()
    a = _anim(c)
    keys = [0, 1, "forest/droid/7", 2**40]
    noise = sampling.normals(42, keys, D)
    z = sampling.animation_latents(c, a, 42, keys, noise, 0.8)
    assert z.shape == (4, 5, D) and z.dtype == np.float32
    pick = rng.choice_batch(42, keys, np.ones(3))
    for row, e in enumerate(pick):
        frames = a.means[e][None] + a.offsets[e]
        proto = a.means[1][None] + a.offsets[1]
        ident = a.scale * (c.chol @ noise[row].astype(np.float64))
        want = proto + 0.8 * ((frames - proto) + ident[None])
        np.testing.assert_allclose(z[row], want, rtol=0, atol=1e-5)
        # one identity for all frames: frame-to-frame steps are the instance's own motion
        np.testing.assert_allclose(
            np.diff(z[row], axis=0),
            0.8 * np.diff(frames, axis=0) + 0.2 * np.diff(proto, axis=0),
            atol=1e-5,
        )
    # spread 0 plays the prototype animation whatever the key
    z0 = sampling.animation_latents(c, a, 42, keys, noise, 0.0)
    np.testing.assert_array_equal(
        z0, np.broadcast_to((a.means[1][None] + a.offsets[1]).astype(np.float32), z0.shape)
    )


def test_animation_rule_is_batch_independent_and_pure():
    c = _class()
    c.animations = [_anim(c)]
    keys = list(range(10)) + ["a", "b"]
    together = sampling.sample_animation(c, "walk", 7, keys, spread=1.3, truncation=2.0)
    for i, k in enumerate(keys):
        alone = sampling.sample_animation(c, "walk", 7, [k], spread=1.3, truncation=2.0)
        assert alone.tobytes() == together[i : i + 1].tobytes()
    with pytest.raises(SamplingError, match="has no animation 'wlak'; did you mean 'walk'"):
        sampling.sample_animation(c, "wlak", 7, [0])
    with pytest.raises(SamplingError, match="spread"):
        sampling.sample_animation(c, "walk", 7, [0], spread=-1)


# --- the bundle format -------------------------------------------------------------------------
def test_manifest_round_trip_and_version():
    c = _class()
    c.animations = [_anim(c)]
    d = class_to_dict(c)
    back = class_from_dict(json.loads(json.dumps(d)), D)
    (a,) = back.animations
    ref = c.animations[0]
    assert (a.name, a.prototype, a.scale, a.durations, a.direction, a.sources) == (
        ref.name,
        ref.prototype,
        ref.scale,
        ref.durations,
        ref.direction,
        ref.sources,
    )
    np.testing.assert_array_equal(a.offsets, ref.offsets)
    assert FORMAT_VERSION == "1.2"
    still = _class()  # a still class's record is exactly 1.1's
    assert "animations" not in class_to_dict(still)


def test_bad_animation_records_and_old_bundles():
    c = _class()
    c.animations = [_anim(c)]
    good = class_to_dict(c)
    for change, msg in [
        (lambda a: a.update(offsets=a["offsets"][:2]), "one list of frames per mean"),
        (lambda a: a["offsets"][0].pop(), "must list 5 frames"),
        (lambda a: a.update(prototype=7), "prototype must be an index"),
        (lambda a: a.update(direction="sideways"), "direction must be one of"),
        (lambda a: a.update(durations=[0] * 5), "durations must list 5 times"),
        (lambda a: a["means"][0].__setitem__(0, "x"), "must hold only numbers"),
    ]:
        d = json.loads(json.dumps(good))
        change(d["animations"][0])
        with pytest.raises(BundleError, match=msg):
            class_from_dict(d, D)
    old = {
        "format": "assetvae-bundle",
        "version": "1.1",
        "image_size": 8,
        "channels": 4,
        "latent_dim": D,
        "rng": rng.SPEC_NAME,
        "classes": [class_to_dict(_class())],
    }
    m = Manifest.from_dict(old)
    assert m.version == "1.1" and m.classes[0].animations == []


# --- end to end: three input formats through the CLI ---------------------------------------------
def _sheets(root: Path) -> None:
    """A grid class (props in subfolders, one sheet per animation), a TexturePacker class and
    an Aseprite class; two looks each."""
    looks = [(200, 40, 40), (40, 170, 60)]
    for k, col in enumerate(looks):
        save(strip([frame(i, col) for i in range(4)]), root / "grid" / f"p{k}" / "walk.png")
        save(strip([frame(i % 2, col) for i in range(4)]), root / "packed" / f"a{k}.png")
        doc = {
            "frames": {
                f"bob_{i}.png": {"frame": {"x": i * 16, "y": 0, "w": 16, "h": 16}} for i in range(4)
            },
            "meta": {"image": f"a{k}.png", "app": "https://www.codeandweb.com/texturepacker"},
        }
        (root / "packed" / f"a{k}.json").write_text(json.dumps(doc))
        save(strip([frame(i, col[::-1]) for i in range(6)]), root / "slime" / f"s{k}.png")
        doc = {
            "frames": [
                {
                    "filename": f"s {i}.aseprite",
                    "duration": 120,
                    "frame": {"x": i * 16, "y": 0, "w": 16, "h": 16},
                }
                for i in range(6)
            ],
            "meta": {
                "app": "http://www.aseprite.org/",
                "image": f"s{k}.png",
                "frameTags": [
                    {"name": "idle", "from": 0, "to": 2, "direction": "pingpong"},
                    {"name": "hop", "from": 3, "to": 5},
                ],
            },
        }
        (root / "slime" / f"s{k}.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def animated_bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sheets")
    _sheets(root / "data")
    run = CliRunner().invoke(
        __import__("assetvae.cli", fromlist=["main"]).main,
        [
            "train",
            str(root / "data"),
            "--out",
            str(root / "run"),
            "--size",
            "16",
            "--latent",
            "6",
            "--width",
            "8",
            "--epochs",
            "2",
            "--grid",
            "16x16",
            "-q",
        ],
    )
    assert run.exit_code == 0, run.output
    assert "walk.png: 4x1 frames of 16x16" in run.output
    assert "sheets: 28 frames in 8 animation(s) of 6 sheet(s), 0 still(s)" in run.output
    assert (root / "run" / "previews" / "animations.png").is_file()
    from assetvae.export.bundle import export_bundle

    out = root / "anim.avae.onnx"
    export_bundle(root / "run", out)
    return out


def test_three_formats_train_and_animate(animated_bundle):
    from assetvae.plugin_api import Generator

    with Generator.load(animated_bundle) as gen:
        assert gen.manifest.version == "1.2"
        assert {c: gen.animations(c) for c in gen.classes} == {
            "grid": ["walk"],
            "packed": ["bob"],
            "slime": ["hop", "idle"],
        }
        info = gen.animation_info("slime", "idle")
        assert info == {
            "frames": 3,
            "durations": [120] * 3,
            "direction": "pingpong",
            "sources": ["s0", "s1"],
        }
        clip = gen.animation("grid", "walk", range(3), seed=5, spread=0.7)
        assert clip.shape == (3, 4, 16, 16, 4) and clip.dtype == np.uint8
        z = gen.animation_latents("grid", "walk", range(3), seed=5, spread=0.7)
        np.testing.assert_array_equal(clip, gen.decode(z.reshape(12, -1)).reshape(clip.shape))
        alone = gen.animation("grid", "walk", [2], seed=5, spread=0.7)
        np.testing.assert_array_equal(alone[0], clip[2])
        with pytest.raises(SamplingError, match="class 'packed' has no animation 'walk'"):
            gen.animation("packed", "walk", [0], seed=1)


def test_sample_animation_writes_apng_gif_and_strip(animated_bundle, tmp_path):
    from assetvae.cli import main

    out = tmp_path / "walk.png"
    r = CliRunner().invoke(
        main,
        [
            "sample",
            str(animated_bundle),
            "--animation",
            "idle",
            "-n",
            "3",
            "--seed",
            "4",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:  # pingpong: 0 1 2 1
        assert im.format == "PNG" and getattr(im, "n_frames", 1) == 4
    with Image.open(tmp_path / "walk.gif") as im:
        assert im.n_frames == 4 and im.info["duration"] == 120
    with Image.open(tmp_path / "walk_frames.png") as im:
        assert im.size[1] > im.size[0] / 3  # rows: one per variant
    r = CliRunner().invoke(
        main, ["sample", str(animated_bundle), "--animation", "fly", "-o", str(out)]
    )
    assert r.exit_code == 2 and "error: no class has an animation 'fly'" in r.output


def test_bake_animation_frame_tags(animated_bundle, tmp_path):
    from assetvae.cli import main

    r = CliRunner().invoke(
        main,
        [
            "bake",
            str(animated_bundle),
            "--animation",
            "all",
            "-n",
            "2",
            "--first-key",
            "9999",
            "-o",
            str(tmp_path / "anim"),
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "anim.json").read_text())
    names = list(doc["frames"])  # as listed: sorted
    tags = {t["name"]: t for t in doc["meta"]["frameTags"]}
    assert set(tags) == {
        f"{a}/{k}"
        for a in ("grid/walk", "packed/bob", "slime/hop", "slime/idle")
        for k in ("9999", "10000")
    }
    page = np.asarray(Image.open(tmp_path / "anim.png"))
    from assetvae.plugin_api import Generator

    with Generator.load(animated_bundle) as gen:
        want = gen.animation("slime", "idle", [10000], seed=0)[0]
    t = tags["slime/idle/10000"]
    assert t["direction"] == "pingpong" and t["to"] - t["from"] == 2
    for i, name in enumerate(names[t["from"] : t["to"] + 1]):
        f = doc["frames"][name]
        assert name == f"slime/idle/10000/{i}" and f["duration"] == 120
        x, y, w, h = (f["frame"][k] for k in "xywh")
        np.testing.assert_array_equal(page[y : y + h, x : x + w], want[i])
    assert doc["animations"]["slime/idle/10000"] == names[t["from"] : t["to"] + 1]
    again = tmp_path / "again"
    CliRunner().invoke(
        main,
        [
            "bake",
            str(animated_bundle),
            "--animation",
            "all",
            "-n",
            "2",
            "--first-key",
            "9999",
            "-o",
            str(again),
        ],
    )
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "anim.png").read_bytes()
    r = CliRunner().invoke(
        main,
        ["bake", str(animated_bundle), "--animation", "walk", "--trim", "-o", str(tmp_path / "x")],
    )
    assert r.exit_code == 2 and "leave out" in r.output


def test_inspect_lists_animations_and_fit_classes_refits_them(animated_bundle):
    from assetvae.classes import refit_classes
    from assetvae.cli import main

    r = CliRunner().invoke(main, ["inspect", str(animated_bundle)])
    assert r.exit_code == 0 and "animations of slime (frames): hop (3), idle (3)" in r.output
    classes = refit_classes(animated_bundle.parent / "run", 1, None)  # --exemplars off
    slime = next(c for c in classes if c.name == "slime")
    assert [a.name for a in slime.animations] == ["hop", "idle"]
    assert slime.animations[0].scale == 0.3  # the animation rule's own default without exemplars


def test_scan_arrays_gives_frames_for_the_native_grid_scan(tmp_path):
    from assetvae.datasets.sheets import SheetOptions, scan_arrays

    save(frame(0), tmp_path / "a" / "still.png")
    assert scan_arrays(tmp_path) is None  # a folder of stills: scanned file by file as before
    save(strip([frame(i) for i in range(4)]), tmp_path / "a" / "walk.png")
    arrays = scan_arrays(tmp_path, SheetOptions(grid=(16, 16)))
    assert len(arrays) == 5 and {a.shape[0] for a in arrays} == {10}  # cropped frames
