"""The folder cache (datasets/cache.py): one memory-mapped file, built once, updated per file."""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import write_rgba

import assetvae.datasets.cache as cache_mod
import assetvae.datasets.folder as folder
from assetvae.datasets.cache import Rows, map_folder
from assetvae.datasets.folder import LoadOptions, load_folder


def _sprite(i: int) -> np.ndarray:
    a = np.zeros((12, 12, 4), np.uint8)
    a[2 + i % 5 : 9, 1 : 10 - i % 4] = (40 * i % 256, 90, 200 - 7 * i % 200, 255)
    return a


def _folder(root, n=6):
    for i in range(n):
        write_rgba(root / ("oak" if i % 2 else "pine") / f"{i:02d}.png", _sprite(i))
    return root


@pytest.fixture
def decodes(monkeypatch):
    calls = []
    real = folder.load_image
    monkeypatch.setattr(folder, "load_image", lambda p, o: calls.append(p.name) or real(p, o))
    return calls


def test_a_folder_is_decoded_once_into_a_read_only_map(tmp_path, monkeypatch, decodes):
    monkeypatch.setenv("ASSETVAE_CACHE", str(tmp_path / "cache"))
    root = _folder(tmp_path / "d")
    first = load_folder(root, LoadOptions(size=16))
    assert len(decodes) == 6
    assert isinstance(first.images, np.memmap) and not first.images.flags.writeable
    plain = load_folder(root, LoadOptions(size=16), use_cache=False)
    assert np.array_equal(first.images, plain.images)
    assert first.paths == plain.paths and np.array_equal(first.labels, plain.labels)
    assert first.fingerprint() == plain.fingerprint()
    again = load_folder(root, LoadOptions(size=16))
    assert len(decodes) == 6 + 6  # the second 6: use_cache=False
    assert np.array_equal(again.images, first.images)
    assert list((tmp_path / "cache" / "folders").iterdir())[0].joinpath("index.json").is_file()


def test_only_new_and_changed_files_are_decoded(tmp_path, monkeypatch, decodes):
    monkeypatch.setenv("ASSETVAE_CACHE", str(tmp_path / "cache"))
    root = _folder(tmp_path / "d")
    load_folder(root, LoadOptions(size=16))
    decodes.clear()
    write_rgba(root / "pine" / "02.png", _sprite(9))
    os.utime(root / "pine" / "02.png", ns=(1, 2_000_000_000_000_000_000))
    write_rgba(root / "oak" / "07.png", _sprite(7))
    (root / "pine" / "04.png").unlink()
    (root / "pine" / "05.png").write_bytes(b"not a png")  # now unreadable
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        got = load_folder(root, LoadOptions(size=16))
    assert sorted(decodes) == ["02.png", "05.png", "07.png"]
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        want = load_folder(root, LoadOptions(size=16), use_cache=False)
    assert np.array_equal(got.images, want.images) and got.paths == want.paths
    decodes.clear()
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):  # remembered, still reported
        load_folder(root, LoadOptions(size=16))
    assert decodes == []
    assert len(list((tmp_path / "cache").rglob("images-*.u8"))) == 1  # the old build is gone


def test_worker_processes_decode_the_same_rows(tmp_path, monkeypatch):
    root = _folder(tmp_path / "d", n=9)
    files = sorted(root.rglob("*.png"))
    monkeypatch.setattr(cache_mod, "POOL_MIN_FILES", 1)
    pooled = map_folder(root, files, LoadOptions(size=16), tmp_path / "c1", workers=2)
    alone = map_folder(root, files, LoadOptions(size=16), tmp_path / "c2", workers=1)
    assert pooled.decoded == alone.decoded == 9
    assert np.array_equal(pooled.images, alone.images) and pooled.ok == alone.ok


def test_rows_reads_only_what_is_indexed():
    a = np.arange(10 * 3).reshape(10, 3)
    r = Rows(a, np.array([7, 2, 5]))
    assert len(r) == 3 and r.shape == (3, 3)
    assert np.array_equal(r[1:], a[[2, 5]]) and np.array_equal(r[np.array([2, 0])], a[[5, 7]])
    assert np.array_equal(np.asarray(r), a[[7, 2, 5]])


def test_mid_run_previews_of_a_large_folder_encode_a_sample(tiny_plants, tmp_path, monkeypatch):
    import assetvae.train as train_mod
    from assetvae.config import ModelConfig, RunConfig, TrainConfig
    from assetvae.rundir import RunDir

    encoded = []
    real = train_mod.encode_all
    monkeypatch.setattr(
        train_mod,
        "encode_all",
        lambda m, images, *a: encoded.append(len(images)) or real(m, images, *a),
    )
    monkeypatch.setattr(train_mod, "PREVIEW_FIT", 5)
    cfg = RunConfig(
        data=str(tiny_plants),
        model=ModelConfig(image_size=32, latent_dim=8, width=8),
        train=TrainConfig(epochs=2, batch_size=8, preview_every=1, device="cpu"),
    )
    result = train_mod.train(cfg, tmp_path / "run", progress=False, log=lambda s: None)
    n_train = sum(c.count for c in RunDir(result.run_dir).read_class_model(8))
    assert encoded == [5, n_train]  # epoch 1: a sample for its sheet; the last epoch: all
