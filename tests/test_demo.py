"""Tests for the procedural demo sets: plants (assetvae.datasets.demo) and pixel-art items
(assetvae.datasets.demo_pixel)."""

from __future__ import annotations

import colorsys
import hashlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assetvae.datasets import demo, demo_pixel
from assetvae.datasets.demo import DEMO_CLASSES, demo_images, draw_plant, write_demo_folder
from assetvae.datasets.demo_pixel import PIXEL_CLASSES, draw_item

EXPECTED_CLASSES = ("pine", "broadleaf", "palm", "cactus", "flower", "bush", "mushroom", "fern")


def _digest(images: dict[str, list[Image.Image]]) -> str:
    h = hashlib.sha256()
    for cls in sorted(images):
        for im in images[cls]:
            h.update(cls.encode())
            h.update(im.tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def default_set() -> tuple[dict[str, list[Image.Image]], float]:
    """The set the README trains on: 8 classes x 32 images at 64 px, and how long it took."""
    t0 = time.perf_counter()
    images = demo_images()
    return images, time.perf_counter() - t0


def _signature(im: Image.Image) -> np.ndarray:
    """A position-independent summary: colour of the solid pixels and silhouette shape."""
    a = np.asarray(im, dtype=np.float64) / 255.0
    solid = a[..., 3] > 0.5
    rows, cols = np.flatnonzero(solid.any(1)), np.flatnonzero(solid.any(0))
    box = solid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = box.shape
    rgb = a[..., :3][solid]
    profile = [band.any(0).mean() for band in np.array_split(box, 6, axis=0)]
    return np.concatenate([rgb.mean(0), rgb.std(0), [box.mean(), w / h], profile])


def test_class_names() -> None:
    assert DEMO_CLASSES == EXPECTED_CLASSES


def test_default_set_counts_format_and_speed(default_set) -> None:
    images, seconds = default_set
    assert list(images) == list(EXPECTED_CLASSES)
    for cls, imgs in images.items():
        assert len(imgs) == 32, cls
        for im in imgs:
            assert im.mode == "RGBA" and im.size == (64, 64)
    # the brief asks for well under 2 s; the bound here is loose so a busy CI does not flake
    assert seconds < 10.0


@pytest.mark.parametrize("size", [16, 32, 64, 100])
def test_sprites_are_clean_rgba(size: int) -> None:
    for cls, imgs in demo_images(per_class=4, seed=3, size=size).items():
        for im in imgs:
            assert im.mode == "RGBA" and im.size == (size, size)
            a = np.asarray(im)
            alpha = a[..., 3]
            assert (alpha == 0).any() and (alpha == 255).any(), cls
            # no colour hidden under fully transparent pixels
            assert not a[alpha == 0, :3].any(), cls
            # nothing touches the top, the sides or the last row; the plant stands near the bottom
            assert not alpha[0].any() and not alpha[-1].any(), cls
            assert not alpha[:, 0].any() and not alpha[:, -1].any(), cls
            solid_rows = np.flatnonzero((alpha > 128).any(1))
            assert solid_rows[-1] >= size * 0.85 - 1, cls
            height = (solid_rows[-1] - solid_rows[0] + 1) / size
            assert 0.4 <= height <= 0.97, (cls, height)


def test_same_seed_same_bytes_different_seed_differs() -> None:
    a = demo_images(per_class=3, seed=7, size=32)
    b = demo_images(per_class=3, seed=7, size=32)
    c = demo_images(per_class=3, seed=8, size=32)
    for cls in DEMO_CLASSES:
        for x, y, z in zip(a[cls], b[cls], c[cls]):
            assert x.tobytes() == y.tobytes()
            assert x.tobytes() != z.tobytes()


def test_draw_plant_is_a_function_of_the_rng_state() -> None:
    for cls in DEMO_CLASSES:
        x = draw_plant(cls, random.Random(42), 48)
        y = draw_plant(cls, random.Random(42), 48)
        assert x.size == (48, 48) and x.tobytes() == y.tobytes()


def test_independent_of_per_class() -> None:
    small = demo_images(per_class=2, seed=5, size=32)
    large = demo_images(per_class=5, seed=5, size=32)
    for cls in DEMO_CLASSES:
        for i in range(2):
            assert small[cls][i].tobytes() == large[cls][i].tobytes()


def test_same_pixels_in_another_process() -> None:
    """String-derived seeds must not depend on PYTHONHASHSEED or the process."""
    code = (
        "import hashlib\n"
        "from assetvae.datasets.demo import demo_images\n"
        "h = hashlib.sha256()\n"
        "imgs = demo_images(per_class=2, seed=11, size=32)\n"
        "for c in sorted(imgs):\n"
        "    for im in imgs[c]:\n"
        "        h.update(c.encode()); h.update(im.tobytes())\n"
        "print(h.hexdigest())\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _digest(demo_images(per_class=2, seed=11, size=32))


def test_classes_differ_more_than_within(default_set) -> None:
    images, _ = default_set
    feats = {c: np.stack([_signature(im) for im in imgs]) for c, imgs in images.items()}
    all_f = np.concatenate(list(feats.values()))
    mu, sd = all_f.mean(0), all_f.std(0) + 1e-9
    feats = {c: (f - mu) / sd for c, f in feats.items()}
    cent = {c: f.mean(0) for c, f in feats.items()}
    for c in DEMO_CLASSES:
        within = np.linalg.norm(feats[c] - cent[c], axis=1).mean()
        between = min(np.linalg.norm(cent[c] - cent[d]) for d in DEMO_CLASSES if d != c)
        assert within < between, (c, within, between)
    # leave-one-out nearest-centroid classification on these simple features
    correct = total = 0
    for c, f in feats.items():
        for j in range(len(f)):
            own = (f.sum(0) - f[j]) / (len(f) - 1)
            dists = {d: np.linalg.norm(f[j] - (own if d == c else cent[d])) for d in DEMO_CLASSES}
            correct += min(dists, key=dists.get) == c
            total += 1
    assert correct / total >= 0.9


def test_variety_within_each_class(default_set) -> None:
    images, _ = default_set
    for cls, imgs in images.items():
        digests = {hashlib.sha256(im.tobytes()).digest() for im in imgs}
        assert len(digests) == len(imgs), cls
        sig = np.stack([_signature(im) for im in imgs])
        # colour and shape both vary inside a class
        assert sig[:, :3].std(0).max() > 0.02, cls
        assert sig[:, 6:].std(0).max() > 0.03, cls
        heights = [np.flatnonzero((np.asarray(im)[..., 3] > 128).any(1)) for im in imgs]
        spans = [r[-1] - r[0] for r in heights]
        assert max(spans) - min(spans) >= 6, cls


def test_write_demo_folder(tmp_path: Path) -> None:
    out = tmp_path / "plants"
    counts = write_demo_folder(out, per_class=2, seed=4, size=32)
    assert counts == {c: 2 for c in DEMO_CLASSES}
    assert sorted(p.name for p in out.iterdir()) == sorted(DEMO_CLASSES)
    expected = demo_images(per_class=2, seed=4, size=32)
    for cls in DEMO_CLASSES:
        files = sorted(p.name for p in (out / cls).iterdir())
        assert files == [f"{cls}_000.png", f"{cls}_001.png"]
        for i, name in enumerate(files):
            with Image.open(out / cls / name) as im:
                assert im.mode == "RGBA"
                assert im.tobytes() == expected[cls][i].tobytes()
    # nothing left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["plants"]


def test_write_refuses_non_empty_target(tmp_path: Path) -> None:
    out = tmp_path / "plants"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write_demo_folder(out, per_class=1, size=16)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plants"]

    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"x")
    with pytest.raises(FileExistsError):
        write_demo_folder(a_file, per_class=1, size=16)


def test_write_into_existing_empty_dir(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert write_demo_folder(out, per_class=1, size=16) == {c: 1 for c in DEMO_CLASSES}
    assert len(list(out.rglob("*.png"))) == len(DEMO_CLASSES)


def test_write_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = demo.draw_plant

    def flaky(cls, rng, size=64):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("boom")
        return real(cls, rng, size)

    monkeypatch.setattr(demo, "draw_plant", flaky)
    out = tmp_path / "plants"
    with pytest.raises(RuntimeError, match="boom"):
        write_demo_folder(out, per_class=3, size=16)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary sibling was removed too


@pytest.mark.parametrize("per_class", [0, -1, 1.5, True, "3"])
def test_bad_per_class(per_class, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="per_class must be an integer >= 1"):
        demo_images(per_class=per_class, size=16)
    with pytest.raises(ValueError, match="per_class"):
        write_demo_folder(tmp_path / "x", per_class=per_class, size=16)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("size", [15, 0, 513, 64.0, "64"])
def test_bad_size(size, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="from 16 to 512"):
        demo_images(per_class=1, size=size)
    with pytest.raises(ValueError, match="from 16 to 512"):
        write_demo_folder(tmp_path / "x", per_class=1, size=size)
    with pytest.raises(ValueError, match="from 16 to 512"):
        draw_plant("pine", random.Random(0), size)
    assert not (tmp_path / "x").exists()


def test_size_none_is_the_style_default() -> None:
    assert demo_images(per_class=1)["pine"][0].size == (64, 64)
    assert demo_images(per_class=1, style="pixel")["gem"][0].size == (16, 16)
    with pytest.raises(ValueError, match="from 16 to 512"):
        draw_plant("pine", random.Random(0), None)


def test_unknown_class() -> None:
    with pytest.raises(ValueError, match="unknown demo class 'oak'.*pine"):
        draw_plant("oak", random.Random(0))


# --------------------------------------------------------------------------- plant colours


def _hue_value(im: Image.Image, min_sat: float = 0.35, min_value: float = 0.25):
    """(hue in degrees, value) of the commonest 30-degree hue band of an image's saturated
    opaque pixels (the mean value of that band), or None when nothing is saturated."""
    a = np.asarray(im).reshape(-1, 4)
    rgb = a[a[:, 3] > 127, :3] / 255.0
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb])
    keep = (hsv[:, 1] >= min_sat) & (hsv[:, 2] >= min_value)
    if not keep.any():
        return None
    h, v = hsv[keep, 0] * 360, hsv[keep, 2]
    band = (np.floor(h / 30).astype(int)) % 12
    top = np.bincount(band, minlength=12).argmax()
    sel = band == top
    return float(np.median(h[sel])), float(v[sel].mean())


def test_demo_mushrooms_come_in_red_brown_purple_and_blue() -> None:
    """Issue 14: the set's mushrooms are purple, brown, blue and red, none of them rare, so a
    model that keeps only the majority colour shows it."""
    counts = {"red": 0, "brown": 0, "purple": 0, "blue": 0, "other": 0}
    for im in demo_images(per_class=32, seed=0)["mushroom"]:
        h, v = _hue_value(im)
        if (h >= 340 or h < 20) and v >= 0.64:
            counts["red"] += 1
        elif 10 <= h < 40 and v < 0.64:
            counts["brown"] += 1
        elif 250 <= h < 320:
            counts["purple"] += 1
        elif 180 <= h < 250:
            counts["blue"] += 1
        else:
            counts["other"] += 1
    for colour in ("red", "brown", "purple", "blue"):
        assert counts[colour] >= 4, counts  # of 32: the weights give 9.6, 6.4, 6.4, 6.4


# --------------------------------------------------------------------------- pixel-art items


@pytest.fixture(scope="module")
def pixel_set() -> dict[str, list[Image.Image]]:
    return demo_images(per_class=32, seed=0, style="pixel")


def test_pixel_classes(pixel_set) -> None:
    assert list(pixel_set) == list(PIXEL_CLASSES) == list(demo.style_classes("pixel"))
    assert len(PIXEL_CLASSES) >= 6
    assert {"sword", "potion", "gem", "shield", "key", "mushroom"} <= set(PIXEL_CLASSES)
    for cls, imgs in pixel_set.items():
        assert len(imgs) == 32
        assert all(im.mode == "RGBA" and im.size == (16, 16) for im in imgs), cls


def test_pixel_items_have_hard_alpha_small_palettes_and_outlines(pixel_set) -> None:
    for cls, imgs in pixel_set.items():
        for im in imgs:
            a = np.asarray(im)
            alpha = a[..., 3]
            assert set(np.unique(alpha)) <= {0, 255}, cls
            assert not a[alpha == 0, :3].any(), cls  # no colour under transparency
            colours = np.unique(a[alpha == 255, :3], axis=0)
            assert 3 <= len(colours) <= demo_pixel.MAX_COLOURS == 8, (cls, len(colours))
            # an outline: every opaque pixel on the silhouette's border is one of the two
            # darkest colours of the sprite
            solid = alpha == 255
            p = np.pad(solid, 1)
            border = solid & ~(p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:])
            lum = colours @ np.array([0.299, 0.587, 0.114])
            darkest = {tuple(c) for c in colours[np.argsort(lum)[:2]]}
            on_dark = np.mean([tuple(c) in darkest for c in a[border, :3]])
            assert on_dark >= 0.9, (cls, on_dark)
            # a real object, not a speck, and it fits the grid
            assert 20 <= solid.sum() <= 230, (cls, solid.sum())


def test_pixel_items_vary_in_colour_within_each_class(pixel_set) -> None:
    """Several palettes per class: count the distinct dominant hue bands (30 degrees; mostly
    grey sprites count as 'neutral')."""
    for cls, imgs in pixel_set.items():
        found = []
        for im in imgs:
            hv = _hue_value(im, min_sat=0.25, min_value=0.3)
            a = np.asarray(im).reshape(-1, 4)
            rgb = a[a[:, 3] > 0, :3] / 255.0
            sat = np.array([colorsys.rgb_to_hsv(*p)[1] for p in rgb])
            grey = (sat < 0.25).mean() > 0.6 or hv is None
            found.append("neutral" if grey else int(hv[0] // 30) % 12)
        kinds, counts = np.unique([str(f) for f in found], return_counts=True)
        assert len(kinds) >= 5, (cls, dict(zip(kinds, counts)))
        assert counts.max() <= 32 * 2 / 3, (cls, dict(zip(kinds, counts)))


def test_pixel_items_vary_in_shape_within_each_class(pixel_set) -> None:
    for cls, imgs in pixel_set.items():
        masks = {(np.asarray(im)[..., 3] > 0).tobytes() for im in imgs}
        assert len(masks) >= 16, (cls, len(masks))  # silhouettes, not only recolours


def test_pixel_items_are_deterministic_and_independent() -> None:
    a = demo_images(per_class=3, seed=7, style="pixel")
    b = demo_images(per_class=5, seed=7, style="pixel")
    c = demo_images(per_class=3, seed=8, style="pixel")
    for cls in PIXEL_CLASSES:
        for i in range(3):
            assert a[cls][i].tobytes() == b[cls][i].tobytes()
        assert [x.tobytes() for x in a[cls]] != [z.tobytes() for z in c[cls]]
    x = draw_item("potion", random.Random(42))
    assert x.tobytes() == draw_item("potion", random.Random(42)).tobytes()
    code = (
        "import hashlib\n"
        "from assetvae.datasets.demo import demo_images\n"
        "h = hashlib.sha256()\n"
        "for c, ims in sorted(demo_images(per_class=2, seed=11, style='pixel').items()):\n"
        "    for im in ims:\n"
        "        h.update(c.encode()); h.update(im.tobytes())\n"
        "print(h.hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONHASHSEED="999"),
    )
    assert out.stdout.strip() == _digest(demo_images(per_class=2, seed=11, style="pixel"))


def test_pixel_sizes_are_nearest_upscales_of_the_native_grid() -> None:
    small = demo_images(per_class=2, seed=1, style="pixel")
    big = demo_images(per_class=2, seed=1, size=64, style="pixel")
    for cls in PIXEL_CLASSES:
        for s, b in zip(small[cls], big[cls]):
            assert b.size == (64, 64)
            assert np.array_equal(np.asarray(b)[::4, ::4], np.asarray(s))
            assert np.array_equal(np.asarray(b), np.asarray(s).repeat(4, 0).repeat(4, 1))
    for bad in (24, 8, 0, 528, 16.0):
        with pytest.raises(ValueError, match="multiple of 16"):
            demo_images(per_class=1, size=bad, style="pixel")
    with pytest.raises(ValueError, match="unknown pixel-art class 'oak'"):
        draw_item("oak", random.Random(0))
    with pytest.raises(ValueError, match="unknown demo style 'voxel'"):
        demo_images(per_class=1, style="voxel")


def test_write_pixel_folder(tmp_path: Path) -> None:
    out = tmp_path / "items"
    counts = write_demo_folder(out, per_class=2, seed=4, style="pixel")
    assert counts == {c: 2 for c in PIXEL_CLASSES}
    expected = demo_images(per_class=2, seed=4, style="pixel")
    for cls in PIXEL_CLASSES:
        for i in range(2):
            with Image.open(out / cls / f"{cls}_{i:03d}.png") as im:
                assert im.mode == "RGBA" and im.tobytes() == expected[cls][i].tobytes()
    assert [p.name for p in tmp_path.iterdir()] == ["items"]


def test_demo_data_command_styles(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from assetvae.cli import main

    r = CliRunner().invoke(
        main, ["demo-data", str(tmp_path / "px"), "--style", "pixel", "--per-class", "2"]
    )
    assert r.exit_code == 0, r.output
    assert "16 images in 8 classes" in r.output
    with Image.open(tmp_path / "px" / "sword" / "sword_000.png") as im:
        assert im.size == (16, 16)
    r = CliRunner().invoke(
        main, ["demo-data", str(tmp_path / "bad"), "--style", "pixel", "--size", "20"]
    )
    assert r.exit_code == 2 and "multiple of 16" in r.output
    assert not (tmp_path / "bad").exists()
