"""Asset-folder scanning and image loading: modes, corrupt files, padding, resampling, cache."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from helpers import write_rgba
from PIL import Image

from assetvae.datasets.folder import (
    DatasetError,
    ImageLoadError,
    LoadOptions,
    load_folder,
    load_image,
    scan_folder,
    split_indices,
)


def _sprite(h=20, w=10, colour=(200, 30, 40)) -> np.ndarray:
    a = np.zeros((h, w, 4), np.uint8)
    a[...] = (*colour, 255)
    return a


def test_scan_classes_sorted_recursive_and_hidden_ignored(tmp_path):
    write_rgba(tmp_path / "b_oak" / "deep" / "x.png", _sprite())
    write_rgba(tmp_path / "a_pine" / "1.png", _sprite())
    write_rgba(tmp_path / "a_pine" / ".hidden.png", _sprite())
    (tmp_path / "a_pine" / "notes.txt").write_text("not an image")
    (tmp_path / ".git").mkdir()
    f = scan_folder(tmp_path)
    assert f.classes == ["a_pine", "b_oak"]
    assert [p.name for p in f.files["a_pine"]] == ["1.png"]
    assert [p.name for p in f.files["b_oak"]] == ["x.png"]


def test_flat_folder_is_one_class(tmp_path):
    root = tmp_path / "mushrooms"
    for i in range(3):
        write_rgba(root / f"{i}.png", _sprite())
    assert scan_folder(root).classes == ["mushrooms"]


def test_empty_folder_and_empty_class_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="no images"):
        scan_folder(tmp_path)
    write_rgba(tmp_path / "oak" / "1.png", _sprite())
    (tmp_path / "pine").mkdir()
    with pytest.raises(DatasetError, match="pine"):
        scan_folder(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        scan_folder(tmp_path / "missing")


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "L", "P", "1", "CMYK", "I;16"])
def test_every_mode_loads_as_rgba(tmp_path, mode):
    rgba = Image.fromarray(_sprite(16, 16, (250, 120, 10)), "RGBA")
    if mode == "I;16":
        im = Image.fromarray(np.full((16, 16), 40000, np.uint16))
    else:
        im = rgba.convert(mode)
    path = tmp_path / f"x.{'jpg' if mode == 'CMYK' else 'png'}"
    im.save(path)
    a = load_image(path, LoadOptions(size=32))
    assert a.shape == (32, 32, 4) and a.dtype == np.uint8
    assert a[..., 3].max() == 255
    if mode == "I;16":
        # 16-bit grey 40000/65535 -> about 156, not clipped to 255
        assert 140 < a[16, 16, 0] < 170


def test_palette_transparency_is_kept(tmp_path):
    p = Image.new("P", (8, 8), 0)
    p.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    p.paste(1, (2, 2, 6, 6))
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    a = load_image(tmp_path / "p.png", LoadOptions(size=16, crop=False))
    assert a[0, 0, 3] == 0 and (a[0, 0, :3] == 0).all()
    assert tuple(a[8, 8]) == (0, 255, 0, 255)


def test_aspect_kept_centred_on_transparent_padding(tmp_path):
    path = write_rgba(tmp_path / "tall.png", _sprite(40, 20))
    a = load_image(path, LoadOptions(size=32))
    cols = np.flatnonzero(a[..., 3].max(axis=0))
    rows = np.flatnonzero(a[..., 3].max(axis=1))
    assert len(rows) == 32 and len(cols) == 16
    assert cols[0] == 8 and cols[-1] == 23  # centred
    assert (a[a[..., 3] == 0][:, :3] == 0).all()  # no hidden colour survives


def test_pixel_art_upscale_is_nearest_and_downscale_is_smooth(tmp_path):
    checker = np.zeros((8, 8, 4), np.uint8)
    checker[..., 3] = 255
    checker[::2, ::2, :3] = 255
    checker[1::2, 1::2, :3] = 255
    path = write_rgba(tmp_path / "px.png", checker)
    up = load_image(path, LoadOptions(size=32))
    assert set(np.unique(up[..., 0])) <= {0, 255}  # nearest: no in-between colours
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 4)).astype(np.uint8)
    noise[..., 3] = 255
    path2 = write_rgba(tmp_path / "big.png", noise)
    down = load_image(path2, LoadOptions(size=16))
    assert len(np.unique(down[..., 0])) > 2
    smooth = load_image(path, LoadOptions(size=32, pixel_art=False))
    assert len(np.unique(smooth[..., 0])) > 2  # the option overrides the default


def test_corrupt_files_are_skipped_with_one_warning(tmp_path):
    for i in range(2):
        write_rgba(tmp_path / "oak" / f"{i}.png", _sprite())
    (tmp_path / "oak" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (tmp_path / "oak" / "empty.png").write_bytes(b"")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = load_folder(tmp_path, LoadOptions(size=16), use_cache=False)
    assert len(ds.images) == 2 and len(ds.skipped) == 2
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 1 and "skipped 2" in msgs[0] and "broken.png" in msgs[0]


def test_class_of_only_corrupt_files_is_an_error(tmp_path):
    write_rgba(tmp_path / "oak" / "0.png", _sprite())
    (tmp_path / "pine").mkdir()
    (tmp_path / "pine" / "bad.png").write_text("not a png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetError, match="pine"):
            load_folder(tmp_path, LoadOptions(size=16), use_cache=False)


def test_truncated_png_is_an_image_load_error(tmp_path):
    path = write_rgba(tmp_path / "t.png", np.random.default_rng(1).integers(0, 255, (64, 64, 4)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError):
        load_image(path, LoadOptions(size=16))


def test_cache_avoids_second_decode_and_notices_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSETVAE_CACHE", str(tmp_path / "cache"))
    path = write_rgba(tmp_path / "d" / "oak" / "0.png", _sprite())
    first = load_folder(tmp_path / "d", LoadOptions(size=16))
    calls = []
    import assetvae.datasets.folder as folder

    real = folder.load_image
    monkeypatch.setattr(folder, "load_image", lambda *a, **k: calls.append(a) or real(*a, **k))
    second = load_folder(tmp_path / "d", LoadOptions(size=16))
    assert calls == [] and np.array_equal(first.images, second.images)
    load_folder(tmp_path / "d", LoadOptions(size=32))  # other options: a new entry
    assert len(calls) == 1
    write_rgba(path, _sprite(colour=(0, 0, 255)))
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    third = load_folder(tmp_path / "d", LoadOptions(size=16))
    assert len(calls) == 2 and not np.array_equal(first.images, third.images)


def test_split_is_stratified_and_keeps_frames_together(tmp_path):
    paths, labels = [], []
    for c, cls in enumerate(["oak", "pine"]):
        for anim in range(5):
            for frame in range(3):
                paths.append(tmp_path / cls / f"{cls}{anim}_walk_{frame:02d}.png")
                labels.append(c)
    paths.append(tmp_path / "solo" / "a.png")
    labels.append(2)
    labels = np.array(labels)
    from pathlib import Path

    paths = [Path(p) for p in paths]
    train, val = split_indices(labels, paths, 0.2, seed=0)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(labels)
    for c in (0, 1):
        assert (labels[val] == c).sum() == 3  # one whole animation of 3 frames
        stems = {paths[i].stem[:-3] for i in val if labels[i] == c}
        assert len(stems) == 1
    assert 30 in train  # a class of one image stays in training


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    from assetvae.plugin_api.fileio import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
