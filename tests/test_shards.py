"""Sharded bakes: `bake --shard I/N` in separate processes, merged to the bytes of one bake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assetvae.cli import main
from assetvae.plugin_api import Generator
from assetvae.plugin_api.atlas import AtlasError, bake_atlas
from assetvae.plugin_api.shards import Shard, bake_shard, merge_shards, parse_shard

# Two classes and a blend, 7 keys from 5 (shards of 2, 2 and 3 keys), pages of at most 80 px
# (2x2 frames of 32 px + extrude), so both the whole bake and each shard have several pages.
BAKE = [
    "--class",
    "pine",
    "--class",
    "cactus",
    "--blend",
    "pine:mushroom:0.25",
    "-n",
    "7",
    "--first-key",
    "5",
    "--seed",
    "13",
    "--spread",
    "0.8",
    "--max-size",
    "80",
    "--device",
    "cpu",
]


def _bake_cmd(bundle: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "assetvae.cli", "bake", str(bundle), *BAKE, "-o", str(out), *args]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_three_shard_processes_merge_to_the_bytes_of_one_bake(bundle, tmp_path):
    whole, parts, merged = tmp_path / "whole", tmp_path / "parts", tmp_path / "merged"
    for d in (whole, parts, merged):
        d.mkdir()
    procs = [
        subprocess.Popen(
            _bake_cmd(bundle, parts / f"part{i}", "--shard", f"{i}/3"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    procs.append(
        subprocess.Popen(
            _bake_cmd(bundle, whole / "forest"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    shard_json = sorted(parts.glob("part*.json"))
    # Each shard is an atlas of its own key range, and records the whole bake.
    doc = json.loads((parts / "part1_0.json").read_text())
    meta = doc["meta"]["assetvae"]
    assert (meta["first_key"], meta["n"]) == ("7", 2)
    assert meta["shard"] == {
        "index": 1,
        "count": 3,
        "first_key": "5",
        "n": 7,
        "groups": ["pine", "cactus", "pine~mushroom@0.25"],
    }
    # Any page of each shard names the others; give them in any order.
    firsts = [p for p in shard_json if p.stem.endswith("_0") or "_" not in p.stem]
    r = CliRunner().invoke(
        main, ["merge-shards", *map(str, reversed(firsts)), "-o", str(merged / "forest")]
    )
    assert r.exit_code == 0, r.output
    want = _files(whole)
    assert len(want) >= 4  # several pages: the merge re-packs across shard boundaries
    assert _files(merged) == want
    # All page files at once (a shell glob) give the same result.
    again = tmp_path / "again"
    r = CliRunner().invoke(
        main, ["merge-shards", *map(str, shard_json), "-o", str(again / "forest")]
    )
    assert r.exit_code == 0, r.output
    assert _files(again) == want


def test_trimmed_shards_merge_to_the_bytes_of_one_bake(bundle, tmp_path):
    # Sprites with transparent margins of many sizes, so trimming packs them tallest first.
    gen = Generator.load(bundle, device="cpu")
    s = gen.image_size

    def fake_variants(cls, keys, *, seed, spread=1.0, truncation=None):
        out = np.zeros((len(keys), s, s, 4), np.uint8)
        for i, k in enumerate(keys):
            x0, y0, w, h = k % 7, (3 * k) % 11, 4 + (5 * k) % 20, 3 + (7 * k + len(cls)) % 20
            out[i, y0 : y0 + h, x0 : x0 + w] = (k * 20 % 256, len(cls) * 9, 200, 255)
        return out

    gen.variants = fake_variants
    options = dict(
        classes=["pine", "cactus"], n=11, first_key=3, seed=2, trim=True, max_size=64, padding=1
    )
    bake_atlas(gen, tmp_path / "whole" / "t", **options)
    for i in range(3):
        bake_shard(gen, tmp_path / "parts" / f"p{i}", f"{i}/3", **options)
    merge_shards(sorted((tmp_path / "parts").glob("*.json")), tmp_path / "merged" / "t")
    want = _files(tmp_path / "whole")
    assert len(want) >= 4 and _files(tmp_path / "merged") == want


def test_shard_ranges_cover_the_keys_once():
    for n in (3, 7, 10, 1000):
        for count in range(1, 4):
            keys = []
            for i in range(count):
                first, size = Shard(i, count).keys(100, n)
                keys += range(first, first + size)
            assert keys == list(range(100, 100 + n))
    assert parse_shard("2/4") == Shard(2, 4)
    for bad, message in [
        ("4/4", "0 to 3"),
        ("1", "I/N"),
        ("-1/3", "I/N"),
        ("1/0", "N must"),
        ("a/b", "I/N"),
    ]:
        with pytest.raises(AtlasError, match=message):
            parse_shard(bad)


def test_missing_or_foreign_shards_are_refused(bundle, tmp_path):
    runner = CliRunner()

    def bake(name, *extra):
        r = runner.invoke(
            main,
            [
                "bake",
                str(bundle),
                "--class",
                "pine",
                "-n",
                "4",
                "--seed",
                "1",
                "--device",
                "cpu",
                "-o",
                str(tmp_path / name),
                *extra,
            ],
        )
        assert r.exit_code == 0, r.output
        return str(tmp_path / f"{name}.json")

    a, b = bake("a", "--shard", "0/2"), bake("b", "--shard", "1/2")
    other = bake("c", "--shard", "1/2", "--spread", "0.5")
    whole = bake("whole")
    for args, message in [
        ([a], "shard(s) 1/2 missing"),
        ([a, other], "shards of different bakes (they differ in spread)"),
        ([a, whole], "a whole bake, not a shard"),
        ([a, str(tmp_path / "nope.json")], "no such file"),
    ]:
        r = runner.invoke(main, ["merge-shards", *args, "-o", str(tmp_path / "m")])
        assert r.exit_code == 2 and message in r.stderr, r.stderr
        assert not (tmp_path / "m.json").exists()
    r = runner.invoke(main, ["merge-shards", a, b, "-o", str(tmp_path / "merged" / "whole")])
    assert r.exit_code == 0, r.output
    assert _files(tmp_path / "merged") == {
        n: (tmp_path / n).read_bytes() for n in ("whole.json", "whole.png")
    }
    r = runner.invoke(
        main, ["bake", str(bundle), "-n", "2", "--shard", "0/3", "-o", str(tmp_path / "x")]
    )
    assert r.exit_code == 2 and "3 shards need at least 3 keys" in r.stderr
