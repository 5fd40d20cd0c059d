"""The bad-input corpus: every kind of broken file, folder, flag or request a user can hand us.

Each refusal must be: exit code 2 from the CLI (a typed AssetVAEError from the API), one
line starting with ``error:`` that names the specific problem and (where it makes sense) what
to do, no traceback, and no output file left behind (not even a temporary one). The odd but
valid inputs (animated GIF, CMYK and EXIF-rotated JPEG, 16-bit PNG, palette transparency,
non-UTF-8 and very long file names, unicode keys, n=0) must simply work.

Every file here is built by the test itself, in tmp_path.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from helpers import write_rgba
from PIL import Image

from assetvae.cli import main
from assetvae.datasets.folder import (
    DatasetError,
    ImageLoadError,
    LoadOptions,
    load_folder,
    load_image,
)
from assetvae.errors import CheckpointError
from assetvae.plugin_api import BundleError, Generator, OutputLayout, SamplingError
from assetvae.plugin_api.manifest import METADATA_KEY

SMALL = [
    "--size",
    "16",
    "--latent",
    "4",
    "--width",
    "4",
    "--batch",
    "8",
    "--epochs",
    "1",
    "--warmup",
    "0",
    "--preview-every",
    "0",
    "-q",
]


# --- helpers ----------------------------------------------------------------------------------
def cli(*args) -> object:
    return CliRunner().invoke(
        main, [os.fsdecode(a) if isinstance(a, (bytes, Path)) else str(a) for a in args]
    )


def assert_refused(r, *needles: str) -> str:
    """Exit 2, exactly one `error:` line holding every needle, nothing but warnings besides."""
    out = r.output
    assert r.exit_code == 2, out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, out
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), out
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    return errors[0]


def assert_nothing_written(path: Path) -> None:
    assert not path.exists(), f"{path} was written"
    parent = path.parent if path.parent.exists() else None
    if parent is not None:
        assert not list(parent.glob(".*.tmp")), "a temporary file was left behind"


def sprite(h: int = 20, w: int = 12, colour=(200, 30, 40)) -> np.ndarray:
    a = np.zeros((h, w, 4), np.uint8)
    a[2:-2, 2:-2] = (*colour, 255)
    return a


def png_bytes(array: np.ndarray, mode: str = "RGBA") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny but well-formed PNG (correct CRCs) whose IHDR declares width x height RGBA."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def class_folder_with(
    tmp_path: Path, bad_name: str | bytes, data: bytes | None
) -> tuple[Path, Path]:
    """data/oak has one good sprite, data/pine holds only the bad file. Returns (root, bad path)."""
    root = tmp_path / "data"
    write_rgba(root / "oak" / "0.png", sprite())
    (root / "pine").mkdir(parents=True)
    bad = Path(os.fsdecode(os.path.join(os.fsencode(root / "pine"), os.fsencode(bad_name))))
    if data is not None:
        bad.write_bytes(data)
    return root, bad


def make_unreadable(path: Path, monkeypatch) -> None:
    """chmod 000; as root (CI containers) that does not stop reads, so open() is made to fail
    for this one file exactly as the kernel would for an ordinary user."""
    path.chmod(0)
    if os.access(path, os.R_OK):  # root can read anything
        real_open = builtins.open

        def guarded(file, *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and os.fspath(file) == os.fspath(path):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)


# --- 1. image files: each is refused by load_image and, alone in a class, by `train` ----------
_GOOD = png_bytes(np.random.default_rng(1).integers(0, 255, (48, 48, 4), dtype=np.uint8))
_bad_crc = bytearray(png_bytes(sprite()))
_bad_crc[29] ^= 0xFF  # inside the IHDR chunk's CRC

IMAGE_CASES = {
    # id: (file name, bytes, needles in the message)
    "zero_byte": ("a.png", b"", ["empty file (0 bytes)", "remove it"]),
    "truncated": ("a.png", _GOOD[: len(_GOOD) // 2], ["damaged or unreadable", "truncated"]),
    "text_named_png": (
        "a.png",
        b"this is a shopping list, not a sprite\n",
        ["not an image file", "re-save it as PNG"],
    ),
    "png_signature_then_garbage": (
        "a.png",
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 8,
        ["damaged or unreadable"],
    ),
    "bad_crc": (
        "a.png",
        bytes(_bad_crc),
        ["damaged or unreadable", "PNG header cannot be decoded"],
    ),
    "decompression_bomb": (
        "a.png",
        png_declaring(100_000, 100_000),
        ["declared size", "too large", "decompression bomb"],
    ),
    "bomb_under_pillow_limit": (
        "a.png",
        png_declaring(9000, 8000),
        ["declared size 9000x8000 is too large"],
    ),
    "one_by_one": (
        "a.png",
        png_bytes(np.full((1, 1, 4), 255, np.uint8)),
        ["1x1 px", "too small or too thin"],
    ),
    "ten_thousand_by_one": (
        "a.png",
        png_bytes(np.full((1, 10000, 4), 255, np.uint8)),
        ["10000x1 px", "aspect ratio"],
    ),
    "fully_transparent": ("a.png", png_bytes(np.zeros((8, 8, 4), np.uint8)), ["fully transparent"]),
    "one_opaque_pixel": (
        "a.png",
        png_bytes(np.pad(np.full((1, 1, 4), 255, np.uint8), ((5, 5), (5, 5), (0, 0)))),
        ["opaque area is 1x1 px"],
    ),
    "jpeg_cut_short": (
        "a.jpg",
        b"\xff\xd8\xff\xe0" + b"\0" * 10,
        ["JPEG header cannot be decoded"],
    ),
}


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_bad_image_is_an_image_load_error(tmp_path, case):
    name, data, needles = IMAGE_CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageLoadError) as err:
        load_image(path, LoadOptions(size=16))
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    for needle in needles:
        assert needle in msg


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_class_of_only_that_file_is_refused_by_train(tmp_path, case):
    name, data, needles = IMAGE_CASES[case]
    root, bad = class_folder_with(tmp_path, name, data)
    run = tmp_path / "run"
    line = assert_refused(
        cli("train", root, "--out", run, *SMALL),
        "class(es) with no readable image: pine",
        str(bad),
        "fix or remove",
    )
    assert needles[0] in line
    assert_nothing_written(run)


def test_unreadable_file(tmp_path, monkeypatch):
    root, bad = class_folder_with(tmp_path, "locked.png", png_bytes(sprite()))
    make_unreadable(bad, monkeypatch)
    with pytest.raises(ImageLoadError, match="permission denied; make the file readable"):
        load_image(bad, LoadOptions(size=16))
    assert_refused(
        cli("train", root, "--out", tmp_path / "run", *SMALL), "pine", "permission denied"
    )
    assert_nothing_written(tmp_path / "run")


def test_symlink_loop_inside_a_class_folder(tmp_path):
    root, _ = class_folder_with(tmp_path, "placeholder.png", None)
    pine = root / "pine"
    os.symlink("b.png", pine / "a.png")  # a.png -> b.png -> a.png
    os.symlink("a.png", pine / "b.png")
    os.symlink("..", pine / "up")  # a directory loop: never followed
    write_rgba(root / "oak" / "1.png", sprite())
    os.symlink(".", root / "oak" / "self")
    with pytest.raises(ImageLoadError, match="symbolic links"):
        load_image(pine / "a.png", LoadOptions(size=16))
    assert_refused(cli("train", root, "--out", tmp_path / "run", *SMALL), "pine", "symbolic links")
    assert_nothing_written(tmp_path / "run")


def test_dangling_symlink(tmp_path):
    root, _ = class_folder_with(tmp_path, "placeholder.png", None)
    os.symlink("gone.png", root / "pine" / "a.png")
    assert_refused(cli("train", root, "--out", tmp_path / "run", *SMALL), "pine", "No such file")


def test_directory_named_like_an_image(tmp_path):
    root, _ = class_folder_with(tmp_path, "placeholder.png", None)
    (root / "pine" / "x.png").mkdir()
    assert_refused(
        cli("train", root, "--out", tmp_path / "run", *SMALL),
        "class folder(s) with no images: pine",
        "add images or remove",
    )
    with pytest.raises(ImageLoadError, match="x.png"):
        load_image(root / "pine" / "x.png", LoadOptions(size=16))
    assert_nothing_written(tmp_path / "run")


def test_class_of_only_corrupt_files_names_the_class_and_the_first_reason(tmp_path):
    root, _ = class_folder_with(tmp_path, "a.png", b"")
    (root / "pine" / "b.png").write_text("not a png")
    r = cli("train", root, "--out", tmp_path / "run", *SMALL)
    line = assert_refused(r, "class(es) with no readable image: pine", "empty file")
    assert "warning: skipped 2 unreadable image(s)" in r.output and "pine/b.png" in r.output
    assert "oak" not in line


def test_empty_folder_and_only_other_extensions(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_refused(
        cli("train", tmp_path / "empty", "--out", tmp_path / "r1", *SMALL),
        "no images found",
        ".png",
        "put images in one subfolder per class",
    )
    oak = tmp_path / "other" / "oak"
    write_rgba(oak / "a.png", sprite()).rename(oak / "a.tga")
    (tmp_path / "other" / "oak" / "notes.png.txt").write_text("x")
    assert_refused(
        cli("train", tmp_path / "other", "--out", tmp_path / "r2", *SMALL),
        "no images found (looked for .bmp, .gif, .jpeg, .jpg, .png, .webp)",
    )
    assert_nothing_written(tmp_path / "r1")
    assert_nothing_written(tmp_path / "r2")


def test_missing_folder_and_a_file_instead_of_a_folder(tmp_path):
    assert_refused(
        cli("train", tmp_path / "nope", "--out", tmp_path / "r", *SMALL), "no such folder"
    )
    (tmp_path / "f.png").write_bytes(png_bytes(sprite()))
    assert_refused(
        cli("train", tmp_path / "f.png", "--out", tmp_path / "r", *SMALL), "is a file, not a folder"
    )
    assert_nothing_written(tmp_path / "r")


def test_non_utf8_class_folder_name_is_refused_before_training(tmp_path):
    root = tmp_path / "data"
    write_rgba(root / "oak" / "0.png", sprite())
    pine = os.path.join(os.fsencode(root), b"\xffpine")
    os.makedirs(pine)
    with open(os.path.join(pine, b"0.png"), "wb") as f:
        f.write(png_bytes(sprite()))
    assert_refused(
        cli("train", root, "--out", tmp_path / "run", *SMALL),
        "class folder name '\\xffpine' is not valid UTF-8",
        "rename it",
    )
    assert_nothing_written(tmp_path / "run")


def test_non_utf8_file_name_in_a_message_prints_in_a_real_process(tmp_path):
    """A surrogate-escaped name must reach the real stderr without an encoding crash."""
    root, bad = class_folder_with(tmp_path, b"\xff\xfe-broken.png", b"junk")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "assetvae.cli",
            "train",
            os.fsencode(root),
            "--out",
            os.fsencode(tmp_path / "run"),
            *SMALL,
        ],
        capture_output=True,
        timeout=120,
        env={**os.environ, "ASSETVAE_CACHE": str(tmp_path / "cache")},
    )
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "pine" in errors[0] and "not an image file" in errors[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "48"], "image size 48 is not supported: use one of 16, 32, 64, 128"),
        (["--size", "100000"], "image size 100000 is not supported"),
        (["--latent", "0"], "latent size 0 is out of range: use 2 to 512"),
        (["--latent", "100000"], "latent size 100000 is out of range"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--batch", "0"], "batch size must be at least 1"),
        (["--seed", "-1"], "seed -1 is out of range"),
        (["--lr", "0"], "learning rate must be positive"),
    ],
)
def test_out_of_range_training_options(tiny_plants, tmp_path, args, message):
    assert_refused(cli("train", tiny_plants, "--out", tmp_path / "run", "-q", *args), message)
    assert_nothing_written(tmp_path / "run")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "5"], "size must be an integer from 16"),
        (["--per-class", "0"], "per_class must be an integer >= 1"),
    ],
)
def test_out_of_range_demo_data_options(tmp_path, args, message):
    assert_refused(cli("demo-data", tmp_path / "demo", *args), message)
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").iterdir())


# --- 2. odd but valid images: they load, correctly --------------------------------------------
def test_animated_gif_uses_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    assert Image.open(tmp_path / "a.gif").n_frames == 3
    a = load_image(tmp_path / "a.gif", LoadOptions(size=16))
    assert tuple(a[8, 8]) == (255, 0, 0, 255)


def test_cmyk_jpeg_loads_as_rgb_colour(tmp_path):
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    a = load_image(tmp_path / "c.jpg", LoadOptions(size=16)).astype(int)
    assert a[8, 8, 0] > 240 and a[8, 8, 1] < 20 and a[8, 8, 2] < 20 and a[8, 8, 3] == 255  # red


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    wide = np.zeros((10, 20, 3), np.uint8)
    wide[:, :10] = (255, 0, 0)  # left half red
    wide[:, 10:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(wide).save(tmp_path / "r.jpg", exif=exif, quality=95)
    a = load_image(tmp_path / "r.jpg", LoadOptions(size=32, crop=False)).astype(int)
    alpha = a[..., 3] > 0
    assert alpha.any(0).sum() == 16 and alpha.any(1).sum() == 32  # now tall: 10x20 upright
    assert a[4, 16, 0] > 200 and a[4, 16, 2] < 60  # top is red (the old left)
    assert a[28, 16, 2] > 200 and a[28, 16, 0] < 60  # bottom is blue


def test_sixteen_bit_pngs_keep_their_range(tmp_path):
    Image.fromarray(np.full((10, 10), 40000, np.uint16)).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    a = load_image(tmp_path / "g16.png", LoadOptions(size=16))
    assert tuple(a[8, 8]) == (156, 156, 156, 255)  # 40000 / 257, not clipped to 255
    # 16-bit RGBA (colour type 6, depth 16), written by hand: red, right half transparent.
    px = np.zeros((10, 20, 4), np.uint16)
    px[..., 0], px[..., 3] = 65535, 65535
    px[:, 10:, 3] = 0
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in px)
    ihdr = struct.pack(">IIBBBBB", 20, 10, 16, 6, 0, 0, 0)
    (tmp_path / "c16.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )
    a = load_image(tmp_path / "c16.png", LoadOptions(size=16))
    assert tuple(a[8, 8]) == (255, 0, 0, 255)


def test_palette_with_transparency_keeps_it(tmp_path):
    p = Image.new("P", (10, 10), 1)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    px = p.load()
    for x in range(10):
        px[x, 0] = 0  # index 0 is transparent
    p.save(tmp_path / "p.png", transparency=0)
    a = load_image(tmp_path / "p.png", LoadOptions(size=10, crop=False))
    assert (a[0, :, 3] == 0).all() and (a[1:, :, 3] == 255).all()
    assert tuple(a[5, 5]) == (255, 0, 0, 255)


def test_image_behind_a_misleading_extension_loads_by_content(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), (0, 255, 0)).save(buf, format="JPEG")
    (tmp_path / "actually_jpeg.png").write_bytes(buf.getvalue())
    assert load_image(tmp_path / "actually_jpeg.png", LoadOptions(size=16))[8, 8, 1] > 240


def test_odd_but_valid_folder_trains_and_samples(tmp_path):
    """Non-UTF-8 and ~250-byte file names, a GIF and a JPEG in one folder: train, export, sample."""
    root = tmp_path / "data"
    for i in range(3):
        write_rgba(root / "oak" / f"{i}.png", sprite(colour=(30, 200, 40 + i)))
        write_rgba(root / "pine" / f"{i}.png", sprite(colour=(200, 30 + i, 40)))
    with open(os.path.join(os.fsencode(root / "oak"), b"\xff\xfe-latin1-\xe9.png"), "wb") as f:
        f.write(png_bytes(sprite(colour=(10, 10, 10))))
    long_name = "x" * 246 + ".png"  # 250 bytes, near the file-system limit
    write_rgba(root / "pine" / long_name, sprite())
    Image.new("RGB", (14, 14), (20, 20, 200)).save(root / "pine" / "j.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped
        ds = load_folder(root, LoadOptions(size=16), use_cache=False)
    assert ds.counts() == {"oak": 4, "pine": 5}
    run = tmp_path / "run"
    r = cli("train", root, "--out", run, *SMALL)
    assert r.exit_code == 0, r.output
    bundle = tmp_path / "b.avae.onnx"
    assert cli("export", run, "-o", bundle).exit_code == 0
    # an output name near the limit: the temporary name must fit too
    sheet = tmp_path / ("s" * 246 + ".png")
    r = cli("sample", bundle, "-n", "2", "-o", sheet)
    assert r.exit_code == 0, r.output
    assert Image.open(sheet).size[0] > 32 and not list(tmp_path.glob(".*.tmp"))


# --- 3. run directories and checkpoints -------------------------------------------------------
class _Evil:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _copy_run(trained_run: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(trained_run, dest)
    return dest


def _edit_state(run: Path, edit) -> None:
    import torch

    state = torch.load(run / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, run / "checkpoint.pt")


def _truncate(run: Path) -> None:
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])


def _wrong_weights(run: Path) -> None:
    import torch

    _edit_state(run, lambda s: s["model"].__setitem__("decoder.fc.weight", torch.zeros(3, 3)))


CHECKPOINT_CASES = {
    "missing_checkpoint": (
        lambda run: (run / "checkpoint.pt").unlink(),
        ["no checkpoint in this run directory", "train first"],
    ),
    "zero_byte_checkpoint": (
        lambda run: (run / "checkpoint.pt").write_bytes(b""),
        ["empty file (0 bytes)", "retrain"],
    ),
    "truncated_checkpoint": (
        _truncate,
        ["damaged or not an assetvae checkpoint", "retrain or restore"],
    ),
    "random_bytes_checkpoint": (
        lambda run: (run / "checkpoint.pt").write_bytes(os.urandom(4096)),
        ["damaged or not an assetvae checkpoint"],
    ),
    "foreign_torch_file": (
        lambda run: __import__("torch").save([1, 2, 3], run / "checkpoint.pt"),
        ["not an assetvae checkpoint"],
    ),
    "weights_of_another_model": (
        _wrong_weights,
        ["weights do not fit the model", "decoder.fc.weight"],
    ),
    "no_weights": (
        lambda run: _edit_state(run, lambda s: s.pop("model")),
        ["incomplete checkpoint"],
    ),
    "bad_config": (
        lambda run: _edit_state(
            run, lambda s: s["config"]["model"].__setitem__("image_size", "big")
        ),
        ["checkpoint has no valid config", "image size big"],
    ),
    "newer_checkpoint": (
        lambda run: _edit_state(run, lambda s: s.__setitem__("version", 99)),
        ["newer assetvae", "upgrade"],
    ),
    "nan_class_model": (
        lambda run: (run / "class_model.json").write_text(
            (run / "class_model.json").read_text().replace("[", "[NaN, ", 1)
        ),
        ["class_model.json", "damaged class model"],
    ),
    "class_model_wrong_size": (
        lambda run: (run / "class_model.json").write_text(
            json.dumps([{"name": "x", "count": 1, "centroid": [0.0], "chol": [[1.0]]}])
        ),
        ["class_model.json", "centroid must be a list of 8 numbers"],
    ),
    "missing_class_model": (
        lambda run: (run / "class_model.json").unlink(),
        ["class_model.json: missing"],
    ),
}


@pytest.mark.parametrize("case", list(CHECKPOINT_CASES))
def test_damaged_run_directory_is_refused_by_export(trained_run, tmp_path, case):
    damage, needles = CHECKPOINT_CASES[case]
    run = _copy_run(trained_run, tmp_path / "run")
    damage(run)
    out = tmp_path / "out" / "x.avae.onnx"
    assert_refused(cli("export", run, "-o", out), *needles)
    assert_nothing_written(out)


@pytest.mark.parametrize(
    "case",
    ["zero_byte_checkpoint", "truncated_checkpoint", "weights_of_another_model", "bad_config"],
)
def test_damaged_checkpoint_is_refused_by_resume(trained_run, tmp_path, case):
    damage, needles = CHECKPOINT_CASES[case]
    run = _copy_run(trained_run, tmp_path / "run")
    damage(run)
    before = sorted(p.name for p in run.iterdir())
    assert_refused(cli("train", "--resume", run, "-q"), *needles)
    assert sorted(p.name for p in run.iterdir()) == before


def test_moving_average_runs_live_weights_of_another_model_are_refused_by_resume(
    trained_run, tmp_path
):
    import torch

    def damage(state: dict) -> None:  # a run with --ema keeps its live weights beside the average
        state["live_model"] = {**state["model"], "decoder.fc.weight": torch.zeros(3, 3)}

    run = _copy_run(trained_run, tmp_path / "run")
    _edit_state(run, damage)
    before = (run / "checkpoint.pt").read_bytes()
    assert_refused(cli("train", "--resume", run, "-q"), "live weights do not fit the model")
    assert (run / "checkpoint.pt").read_bytes() == before


def test_missing_run_directory(tmp_path):
    assert_refused(
        cli("export", tmp_path / "nope", "-o", tmp_path / "x.onnx"), "no such run directory"
    )
    assert_refused(cli("train", "--resume", tmp_path / "nope"), "no such run directory")


@pytest.mark.parametrize("how", ["torch_save", "pickle_protocol_2", "pickle_default"])
def test_malicious_pickle_checkpoint_is_never_unpickled(trained_run, tmp_path, how):
    import torch

    marker = tmp_path / "PWNED"
    run = _copy_run(trained_run, tmp_path / "run")
    ckpt = run / "checkpoint.pt"
    if how == "torch_save":  # a real torch zip whose data.pkl calls os.system
        torch.save({"format": "assetvae-checkpoint", "version": 1, "payload": _Evil(marker)}, ckpt)
    else:
        protocol = 2 if how == "pickle_protocol_2" else None
        ckpt.write_bytes(pickle.dumps(_Evil(marker), protocol=protocol))
    out = tmp_path / "x.avae.onnx"
    line = assert_refused(cli("export", run, "-o", out), str(ckpt))
    assert "refused" in line or "damaged or not an assetvae checkpoint" in line
    assert "weights_only" not in line  # never the advice to load it unsafely
    if how != "pickle_default":
        assert "asks to run Python code (posix.system)" in line and "do not trust this file" in line
    assert_refused(cli("train", "--resume", run, "-q"))
    with pytest.raises(CheckpointError):
        from assetvae.rundir import load_checkpoint

        load_checkpoint(run)
    assert not marker.exists(), "the pickle's payload ran"
    assert_nothing_written(out)


# --- 4. bundles -------------------------------------------------------------------------------
def _manifest(bundle: Path) -> dict:
    m = onnx.load(str(bundle))
    return json.loads(next(p.value for p in m.metadata_props if p.key == METADATA_KEY))


def _with_manifest(bundle: Path, dest: Path, text: str | None) -> Path:
    m = onnx.load(str(bundle))
    del m.metadata_props[:]
    if text is not None:
        onnx.helper.set_model_props(m, {METADATA_KEY: text})
    onnx.save(m, str(dest))
    return dest


def _edited(edit):
    def make(d: dict) -> str:
        edit(d)
        return json.dumps(d)

    return make


def _set_chol(i: int, j: int, value: float):
    return _edited(lambda d: d["classes"][0]["chol"][i].__setitem__(j, value))


def _latent_9(d: dict) -> str:
    d["latent_dim"] = 9
    for c in d["classes"]:
        c["centroid"] = c["centroid"] + [0.0]
        c["chol"] = [row + [0.0] for row in c["chol"]] + [[0.0] * 8 + [1.0]]
    return json.dumps(d)


BUNDLE_CASES = {
    # id: (function of the valid manifest dict -> metadata text (None: no manifest), needles)
    "onnx_without_manifest": (
        lambda d: None,
        ["an ONNX file, but not an assetvae bundle", "no 'assetvae.manifest'"],
    ),
    "malformed_json": (lambda d: json.dumps(d)[:-7], ["manifest is not valid JSON", "re-export"]),
    "manifest_not_an_object": (lambda d: "[1, 2]", ["manifest must be a JSON object"]),
    "nan_centroid": (
        lambda d: json.dumps(d).replace(str(d["classes"][0]["centroid"][0]), "NaN", 1),
        ["not valid JSON", "NaN is not allowed"],
    ),
    "infinite_centroid": (
        lambda d: json.dumps(d).replace(str(d["classes"][0]["centroid"][0]), "1e999", 1),
        ["centroid holds NaN or infinite values"],
    ),
    "infinity_literal": (
        lambda d: json.dumps(d).replace(str(d["classes"][0]["chol"][0][0]), "Infinity", 1),
        ["Infinity is not allowed"],
    ),
    "non_triangular_factor": (_set_chol(0, 3, 0.5), ["factor must be lower triangular"]),
    "singular_factor": (_set_chol(2, 2, 0.0), ["factor must have a positive diagonal"]),
    "negative_diagonal": (_set_chol(1, 1, -1.0), ["positive diagonal (positive definite)"]),
    "ragged_factor": (
        _edited(lambda d: d["classes"][0]["chol"][4].pop()),
        ["factor must be a list of 8 numbers"],
    ),
    "latent_disagrees_with_graph": (
        _latent_9,
        ["manifest says latent size 9 but the graph takes 8", "re-export"],
    ),
    "image_size_disagrees_with_graph": (
        _edited(lambda d: d.__setitem__("image_size", 64)),
        [f"manifest says {OutputLayout.UINT8_NHWC} [64, 64, 4]"],
    ),
    "newer_major_version": (
        _edited(lambda d: d.__setitem__("version", "2.0")),
        ["format version 2.0 is newer than this runtime supports", "upgrade assetvae"],
    ),
    "garbage_version": (
        _edited(lambda d: d.__setitem__("version", "one")),
        ["version 'one' is not of the form"],
    ),
    "other_format": (
        _edited(lambda d: d.__setitem__("format", "somebody-else")),
        ["format is 'somebody-else'"],
    ),
    "unknown_rng": (
        _edited(lambda d: d.__setitem__("rng", "mt19937")),
        ["RNG spec 'mt19937' is unknown"],
    ),
    "no_classes": (
        _edited(lambda d: d.__setitem__("classes", [])),
        ["classes must be a non-empty list"],
    ),
    "duplicate_classes": (
        _edited(lambda d: d["classes"].__setitem__(1, d["classes"][0])),
        ["class names must be unique"],
    ),
    "latent_is_a_string": (
        _edited(lambda d: d.__setitem__("latent_dim", "8")),
        ["latent_dim must be an integer"],
    ),
}


@pytest.mark.parametrize("case", list(BUNDLE_CASES))
def test_bad_bundle_is_refused(bundle, tmp_path, case):
    make, needles = BUNDLE_CASES[case]
    bad = _with_manifest(bundle, tmp_path / "bad.avae.onnx", make(_manifest(bundle)))
    with pytest.raises(BundleError) as err:
        Generator.load(bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    for needle in needles:
        assert needle in str(err.value)
    assert_refused(cli("inspect", bad), *needles)
    sheet = tmp_path / "sheet.png"
    assert_refused(cli("sample", bad, "-o", sheet), *needles)
    assert_nothing_written(sheet)


def test_not_onnx_empty_and_folder_bundles(tmp_path):
    (tmp_path / "text.avae.onnx").write_text("definitely not protobuf")
    assert_refused(
        cli("inspect", tmp_path / "text.avae.onnx"), "not a valid ONNX bundle", "re-export it"
    )
    (tmp_path / "empty.avae.onnx").write_bytes(b"")
    assert_refused(
        cli("sample", tmp_path / "empty.avae.onnx", "-o", tmp_path / "s.png"), "empty file"
    )
    assert_nothing_written(tmp_path / "s.png")
    assert_refused(cli("inspect", tmp_path / "missing.avae.onnx"), "no such bundle file")
    (tmp_path / "dir.avae.onnx").mkdir()
    with pytest.raises(BundleError, match="is a folder, not a bundle file"):
        Generator.load(tmp_path / "dir.avae.onnx")
    # click's own argument check: still exit 2, no traceback
    r = cli("inspect", tmp_path / "dir.avae.onnx")
    assert r.exit_code == 2 and "is a directory" in r.output and "Traceback" not in r.output


def test_sidecar_for_another_graph_is_refused(bundle, tmp_path):
    bare = _with_manifest(bundle, tmp_path / "b.avae.onnx", None)
    d = _manifest(bundle)
    d["graph_sha256"] = "0" * 64
    (tmp_path / "b.avae.json").write_text(json.dumps(d))
    assert_refused(cli("inspect", bare), "hash mismatch", "keep each bundle with its own .json")
    (tmp_path / "b.avae.json").write_text("{not json")
    assert_refused(cli("inspect", bare), "b.avae.json", "not valid JSON")


# --- 5. sampling requests ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, needles",
    [
        (["--class", "pinee"], ["unknown class 'pinee'", "did you mean 'pine'?"]),
        (["--class", "Cactus"], ["unknown class 'Cactus'", "did you mean 'cactus'?"]),
        (["--class", "zzzz"], ["unknown class 'zzzz'", "classes are: cactus, mushroom, pine"]),
        (["--spread", "-1"], ["spread -1.0 is out of range", "use 0 (the class prototype) to 10"]),
        (["--spread", "1e9"], ["spread 1000000000.0 is out of range"]),
        (["--spread", "nan"], ["spread nan is out of range"]),
        (["--spread", "inf"], ["spread inf is out of range"]),
        (["-n", str(10**9)], ["n=1000000000 is too many for a sheet", "assetvae bake"]),
        (["-n", "-1"], ["n=-1 is out of range"]),
        (["--seed", str(2**64)], ["seed must be in [0, 2**64)", "18446744073709551616"]),
        (["--seed", "-1"], ["seed must be in [0, 2**64)", "negative ints are refused"]),
        (["--seed", str(10**30)], ["seed must be in [0, 2**64)"]),
        (["--truncation", "0.001"], ["truncation must be None or >= 0.05"]),
        (["--scale", "0"], ["scale 0 is out of range: use 1 to 32"]),
        (["--scale", "100000"], ["scale 100000 is out of range"]),
    ],
)
def test_bad_sample_requests(bundle, tmp_path, args, needles):
    sheet = tmp_path / "sheet.png"
    assert_refused(cli("sample", bundle, *args, "-o", sheet), *needles)
    assert_nothing_written(sheet)


def test_n_zero_is_an_empty_success(bundle, tmp_path):
    gen = Generator.load(bundle)
    assert gen.sample("pine", 0).shape == (0, 32, 32, 4)
    assert gen.variants("pine", [], seed=1).shape == (0, 32, 32, 4)
    assert gen.blend("pine", "cactus", 0.5, [], seed=1).shape == (0, 32, 32, 4)
    assert gen.latents("pine", range(0), seed=1).shape == (0, gen.latent_dim)
    r = cli("sample", bundle, "-n", "0", "-o", tmp_path / "s.png")
    assert r.exit_code == 0 and "0 variants" in r.output


def test_unicode_and_extreme_keys_are_fine(bundle):
    gen = Generator.load(bundle)
    keys = ["forêt/木/3", "🌲🌲", "", "\x00", "a" * 10_000, 0, 2**64 - 1, np.uint64(5)]
    batch = gen.variants("pine", keys, seed=2**64 - 1, spread=0.5)
    assert batch.shape == (len(keys), 32, 32, 4)
    alone = gen.variants("pine", ["🌲🌲"], seed=2**64 - 1, spread=0.5)[0]
    assert np.array_equal(alone, batch[1])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: g.variants("pine", [0], seed=2**64), "seed must be in [0, 2**64)"),
        (lambda g: g.variants("pine", [0], seed=-1), "seed must be in [0, 2**64)"),
        (lambda g: g.variants("pine", [0], seed=1.5), "seed must be an int"),
        (lambda g: g.variants("pine", [2**64], seed=0), "key must be in [0, 2**64)"),
        (lambda g: g.variants("pine", [-1], seed=0), "key must be in [0, 2**64)"),
        (
            lambda g: g.variants("pine", [1.5], seed=0),
            "key must be an int in [0, 2**64) or a str, got float",
        ),
        (lambda g: g.variants("pine", [None], seed=0), "got NoneType"),
        (lambda g: g.variants("pine", ["\udcff"], seed=0), "is not valid Unicode text"),
        (lambda g: g.variants("pine", "oak/17", seed=0), "not a single str; write ['oak/17']"),
        (lambda g: g.variants("pine", None, seed=0), "keys must be a sequence"),
        (lambda g: g.variants("pine", 5, seed=0), "not the int 5; write range(5)"),
        (lambda g: g.variants("pine", range(10**9), seed=0), "1,000,000,000 keys in one call"),
        (lambda g: g.variants("pine", iter(range(10**9)), seed=0), "more than 1,000,000 keys"),
        (
            lambda g: g.variants("pine", [0], seed=0, spread="wide"),
            "spread must be a number, got str",
        ),
        (lambda g: g.variants("pine", [0], seed=0, spread=None), "spread must be a number"),
        (lambda g: g.variants("pine", [0], seed=0, spread=10**400), "spread"),
        (
            lambda g: g.variants("pine", [0], seed=0, truncation="x"),
            "truncation must be None or a number",
        ),
        (lambda g: g.variants(None, [0], seed=0), "unknown class None"),
        (lambda g: g.blend("pine", "cactus", "half", [0], seed=0), "blend amount must be a number"),
        (lambda g: g.blend("pine", "cactus", 2.0, [0], seed=0), "blend amount 2.0 is out of range"),
        (lambda g: g.blend("pine", "oak", 0.5, [0], seed=0), "unknown class 'oak'"),
        (lambda g: g.variants_like(np.zeros((8, 8, 4), np.uint8), [0], seed=-1), "seed must be in"),
        (lambda g: g.nearest_class(np.zeros(3)), "z must be 8 finite numbers, got shape [3]"),
        (lambda g: g.nearest_class([np.nan] * 8), "z must be 8 finite numbers"),
    ],
)
def test_bad_api_requests_raise_sampling_error(bundle, call, message):
    gen = Generator.load(bundle)
    with pytest.raises(SamplingError) as err:
        call(gen)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_load_options_are_typed_errors(bundle):
    from assetvae.plugin_api import AssetVAEError

    for kwargs in ({"device": "tpu"}, {"threads": 0}, {"threads": "4"}, {"threads": True}):
        with pytest.raises(AssetVAEError):
            Generator.load(bundle, **kwargs)


def test_dataset_errors_are_typed_for_the_api(tmp_path):
    with pytest.raises(DatasetError, match="no images found"):
        load_folder(tmp_path, LoadOptions(size=16), use_cache=False)


def test_non_utf8_flat_folder_name_is_refused(tmp_path):
    flat = os.path.join(os.fsencode(tmp_path), b"\xfeoaks")
    os.makedirs(flat)
    with open(os.path.join(flat, b"0.png"), "wb") as f:
        f.write(png_bytes(sprite()))
    assert_refused(
        cli("train", flat, "--out", tmp_path / "run", *SMALL), "'\\xfeoaks' is not valid UTF-8"
    )
