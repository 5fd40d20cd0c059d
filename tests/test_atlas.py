"""`assetvae bake`: atlas pages + TexturePacker JSON (hash), shards, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from assetvae.cli import main
from assetvae.plugin_api import Generator
from assetvae.plugin_api.atlas import AtlasError, _pack, build_atlas, parse_blend, write_atlas


@pytest.fixture(scope="module")
def gen(bundle) -> Generator:
    return Generator.load(bundle, device="cpu")


def bake(bundle: Path, out: Path, *args: str):
    r = CliRunner().invoke(main, ["bake", str(bundle), "-o", str(out), "--device", "cpu", *args])
    return r


def load(json_path: Path) -> tuple[dict, np.ndarray]:
    doc = json.loads(json_path.read_text())
    page = np.asarray(Image.open(json_path.with_name(doc["meta"]["image"])).convert("RGBA"))
    return doc, page


def check_layout(doc: dict, page: np.ndarray, padding: int, extrude: int) -> None:
    """Frames lie inside the page, and their extruded cells are padding apart."""
    h, w = page.shape[:2]
    assert (doc["meta"]["size"]["w"], doc["meta"]["size"]["h"]) == (w, h)
    cells = []
    for f in doc["frames"].values():
        r = f["frame"]
        x0, y0 = r["x"] - extrude, r["y"] - extrude
        x1, y1 = r["x"] + r["w"] + extrude, r["y"] + r["h"] + extrude
        assert 0 <= x0 and 0 <= y0 and x1 <= w and y1 <= h, r
        cells.append((x0, y0, x1, y1))
    for i, a in enumerate(cells):
        for b in cells[i + 1 :]:
            apart = (
                a[2] + padding <= b[0]
                or b[2] + padding <= a[0]
                or a[3] + padding <= b[1]
                or b[3] + padding <= a[1]
            )
            assert apart, (a, b)


def crop(page: np.ndarray, frame: dict, extrude: int = 0) -> np.ndarray:
    r = frame["frame"]
    x, y = r["x"] - extrude, r["y"] - extrude
    return page[y : y + r["h"] + 2 * extrude, x : x + r["w"] + 2 * extrude]


def test_bake_writes_texturepacker_hash_json_and_exact_pixels(bundle, gen, tmp_path):
    r = bake(
        bundle,
        tmp_path / "forest",
        "--class",
        "cactus",
        "--class",
        "pine",
        "-n",
        "12",
        "--seed",
        "42",
        "--spread",
        "0.7",
        "--padding",
        "3",
        "--extrude",
        "2",
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forest.json", "forest.png"]
    doc, page = load(tmp_path / "forest.json")
    meta = doc["meta"]
    assert meta["app"] == "assetvae" and meta["image"] == "forest.png"
    assert meta["format"] == "RGBA8888"
    assert meta["scale"] == "1" and "related_multi_packs" not in meta
    assert meta["assetvae"]["seed"] == "42" and meta["assetvae"]["spread"] == 0.7
    assert meta["assetvae"]["rng"] == "assetvae-splitmix-polar-v1"
    assert all(s & (s - 1) == 0 for s in meta["size"].values())  # power-of-two page
    names = [f"{c}/{k:04d}" for c in ("cactus", "pine") for k in range(12)]
    assert sorted(doc["frames"]) == sorted(names)
    check_layout(doc, page, padding=3, extrude=2)
    for cls in ("cactus", "pine"):
        want = gen.variants(cls, range(12), seed=42, spread=0.7)
        for k in range(12):
            f = doc["frames"][f"{cls}/{k:04d}"]
            assert f["rotated"] is False and f["trimmed"] is False
            assert f["sourceSize"] == {"w": 32, "h": 32}
            assert f["spriteSourceSize"] == {"x": 0, "y": 0, "w": 32, "h": 32}
            assert f["pivot"] == {"x": 0.5, "y": 0.5}
            assert f["assetvae"] == {"class": cls, "seed": "42", "key": str(k), "spread": 0.7}
            assert np.array_equal(crop(page, f), want[k])
            # Extrusion: each border ring repeats the frame's edge pixels, corners included.
            cell = crop(page, f, extrude=2)
            assert np.array_equal(cell, np.pad(want[k], ((2, 2), (2, 2), (0, 0)), mode="edge"))


def test_same_bake_twice_gives_identical_bytes(bundle, tmp_path):
    args = (
        "--class",
        "pine",
        "--blend",
        "pine:mushroom:0.25",
        "-n",
        "9",
        "--seed",
        "5",
        "--max-size",
        "128",
        "--trim",
        "--truncation",
        "2",
    )
    assert bake(bundle, tmp_path / "a" / "set", *args).exit_code == 0
    assert bake(bundle, tmp_path / "b" / "set", *args).exit_code == 0
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert len(a) >= 4 and a == b  # several pages, byte for byte


def test_multipage_when_max_size_is_small(bundle, gen, tmp_path):
    # 32 px + 2x1 extrude = 34 px cells, 2 px apart: 2x2 cells fit in 80 px, so 5 frames -> 2 pages.
    r = bake(
        bundle, tmp_path / "f", "--class", "mushroom", "-n", "5", "--max-size", "80", "--seed", "3"
    )
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["f_0.json", "f_0.png", "f_1.json", "f_1.png"]
    want = gen.variants("mushroom", range(5), seed=3)
    seen = {}
    for i in range(2):
        doc, page = load(tmp_path / f"f_{i}.json")
        assert doc["meta"]["image"] == f"f_{i}.png"
        assert doc["meta"]["related_multi_packs"] == [f"f_{1 - i}.json"]
        assert doc["meta"]["assetvae"]["page"] == i and doc["meta"]["assetvae"]["pages"] == 2
        assert max(page.shape[:2]) <= 80
        check_layout(doc, page, padding=2, extrude=1)
        for name, f in doc["frames"].items():
            seen[name] = crop(page, f)
    assert sorted(seen) == [f"mushroom/{k:04d}" for k in range(5)]
    for k in range(5):
        assert np.array_equal(seen[f"mushroom/{k:04d}"], want[k])


def test_a_key_range_is_a_shard_of_the_full_bake(bundle, tmp_path):
    both = ("--class", "pine", "--class", "cactus")
    assert bake(bundle, tmp_path / "full", *both, "-n", "10", "--seed", "9").exit_code == 0
    r = bake(bundle, tmp_path / "shard", *both, "-n", "3", "--first-key", "4", "--seed", "9")
    assert r.exit_code == 0, r.output
    full, full_page = load(tmp_path / "full.json")
    shard, shard_page = load(tmp_path / "shard.json")
    assert sorted(shard["frames"]) == sorted(
        f"{c}/{k:04d}" for c in ("pine", "cactus") for k in (4, 5, 6)
    )
    for name, f in shard["frames"].items():
        assert f["assetvae"] == full["frames"][name]["assetvae"]
        assert np.array_equal(crop(shard_page, f, 1), crop(full_page, full["frames"][name], 1))


def test_blend_frames(bundle, gen, tmp_path):
    r = bake(bundle, tmp_path / "mix", "--blend", "pine:cactus:0.5", "-n", "4", "--seed", "11")
    assert r.exit_code == 0, r.output
    doc, page = load(tmp_path / "mix.json")
    # --blend alone: no classes
    assert sorted(doc["frames"]) == [f"pine~cactus@0.5/{k:04d}" for k in range(4)]
    want = gen.blend("pine", "cactus", 0.5, range(4), seed=11)
    for k in range(4):
        f = doc["frames"][f"pine~cactus@0.5/{k:04d}"]
        assert f["assetvae"]["blend"] == {"a": "pine", "b": "cactus", "t": 0.5}
        assert np.array_equal(crop(page, f), want[k])


def test_trim_crops_to_opaque_pixels_and_records_the_offset(bundle, tmp_path):
    # The 2-epoch test bundle draws no transparent margins, so give it sprites that have some.
    g = Generator.load(bundle, device="cpu")
    s = g.image_size

    def fake_variants(cls, keys, *, seed, spread=1.0, truncation=None):
        out = np.zeros((len(keys), s, s, 4), np.uint8)
        for i, k in enumerate(keys):
            x0, y0, w, h = k % 7, (3 * k) % 11, 4 + (5 * k) % 20, 3 + (7 * k) % 20
            out[i, y0 : y0 + h, x0 : x0 + w] = (k * 20 % 256, 100, 200, 255)
            out[i, y0, x0 + w - 1, :3] = 7  # a marker inside the box
        return out

    g.variants = fake_variants
    atlas = build_atlas(g, classes=["pine"], n=14, trim=True, padding=1, extrude=1, max_size=40)
    paths = write_atlas(atlas, tmp_path / "t")
    assert len(atlas.pages) >= 2 and len(paths) == 2 * len(atlas.pages)
    src = fake_variants("pine", range(14), seed=0)
    n = 0
    for jp in paths[: len(atlas.pages)]:
        doc, page = load(jp)
        check_layout(doc, page, padding=1, extrude=1)
        for name, f in doc["frames"].items():
            k = int(name.split("/")[1])
            x0, y0, w, h = k % 7, (3 * k) % 11, 4 + (5 * k) % 20, 3 + (7 * k) % 20
            assert f["spriteSourceSize"] == {"x": x0, "y": y0, "w": w, "h": h}
            assert f["frame"]["w"] == w and f["frame"]["h"] == h
            assert f["trimmed"] is True and f["sourceSize"] == {"w": s, "h": s}
            assert np.array_equal(crop(page, f), src[k, y0 : y0 + h, x0 : x0 + w])
            n += 1
    assert n == 14


def test_pack_fills_pages_in_order():
    pages = _pack([(12, 12)] * 7, max_size=32, gap=1)
    # 12 + 1 + 12 <= 32 < 12 + 1 + 12 + 1 + 12: 2x2 a page
    assert [len(p[2]) for p in pages] == [4, 3]
    assert pages[0][2] == [(0, 0), (13, 0), (0, 13), (13, 13)]
    for w, h, _ in pages:
        assert w <= 32 and h <= 32 and w & (w - 1) == 0 and h & (h - 1) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--class", "oak"], "unknown class 'oak'"),
        (["-n", "0"], "-n 0 is out of range"),
        (["--max-size", "16"], "--max-size 16 is smaller than one frame"),
        (["--blend", "pine:cactus"], "write it as CLASS_A:CLASS_B:T"),
        (["--blend", "pine:cactus:half"], "T must be a number"),
        (["--blend", "pine:cactus:1.5"], "T must be from 0"),
        (["--blend", "pine:oak:0.5"], "unknown class 'oak'"),
        (["--spread", "-1"], "spread -1.0 is out of range"),
        (["--padding", "-1"], "--padding -1 is out of range"),
        (["--seed", "-1"], "seed"),
        (["--first-key", str(2**64 - 2), "-n", "4"], "--first-key"),
    ],
)
def test_bad_arguments_give_one_line_and_no_files(bundle, tmp_path, args, message):
    out = tmp_path / "out"
    out.mkdir()
    r = bake(bundle, out / "atlas", *args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert list(out.iterdir()) == []


def test_a_failed_write_leaves_no_half_set(gen, tmp_path, monkeypatch):
    atlas = build_atlas(gen, classes=["pine"], n=5, max_size=80)
    calls = []
    real = Path.write_bytes

    def failing(self, data):
        calls.append(self)
        if len(calls) == 3:  # the second page's JSON is written; the first PNG fails
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(OSError):
        write_atlas(atlas, tmp_path / "f")
    assert list(tmp_path.iterdir()) == []  # no pages, no JSON, no temporary files


def test_parse_blend():
    b = parse_blend("oak:pine:0.5")
    assert (b.a, b.b, b.t, b.name, b.label) == ("oak", "pine", 0.5, "oak~pine@0.5", "oak~pine 0.5")
    for bad in ("oak", "oak:pine", ":pine:0.5", "oak:pine:nan", "oak:pine:-0.1", "a:b:c:0.5"):
        with pytest.raises(AtlasError):
            parse_blend(bad)


def test_sample_blend_row(bundle, tmp_path):
    out = tmp_path / "sheet.png"
    r = CliRunner().invoke(
        main,
        [
            "sample",
            str(bundle),
            "--class",
            "pine",
            "--blend",
            "pine:cactus:0.5",
            "-n",
            "4",
            "--device",
            "cpu",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "2 row(s)" in r.output
    two_rows = Image.open(out).size
    r = CliRunner().invoke(
        main,
        [
            "sample",
            str(bundle),
            "--class",
            "pine",
            "-n",
            "4",
            "--device",
            "cpu",
            "-o",
            str(tmp_path / "one.png"),
        ],
    )
    assert Image.open(tmp_path / "one.png").size[1] < two_rows[1]
    r = CliRunner().invoke(
        main, ["sample", str(bundle), "--blend", "pine-cactus", "-o", str(tmp_path / "x.png")]
    )
    assert r.exit_code == 2 and r.stderr.startswith("error: --blend 'pine-cactus'")
    assert not (tmp_path / "x.png").exists()
