"""Sharded bakes: one bake's key range split over N workers, merged into the bytes one bake writes.

A variant is a pure function of (bundle, seed, key, class, spread, truncation), so any worker,
on any host, decodes the same pixels for the same key. Shard I of N (I from 0 to N-1) of a bake
of keys first_key .. first_key+n-1 bakes keys first_key + I*n//N .. first_key + (I+1)*n//N - 1 of
every class and blend, as an ordinary atlas (usable on its own) whose ``meta.assetvae.shard``
records the whole bake::

    assetvae bake plants.avae.onnx --class pine -n 3000 --seed 42 --shard 0/3 -o build/part0
    assetvae bake plants.avae.onnx --class pine -n 3000 --seed 42 --shard 1/3 -o build/part1
    assetvae bake plants.avae.onnx --class pine -n 3000 --seed 42 --shard 2/3 -o build/part2
    assetvae merge-shards build/part0.json build/part1.json build/part2.json -o build/forest

The merge reads every shard's frames back from its PNG pages (lossless), puts them in the
order of the whole bake and packs them with the bake's own packing rule
(``atlas.pack_frames``): the merged files are byte for byte those of the single bake.

Imports numpy and Pillow only (and the rest of plugin_api).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .atlas import (
    _U64_MAX,
    Atlas,
    BakeResult,
    Blend,
    Frame,
    _check_int,
    _stem,
    build_atlas,
    pack_frames,
    parse_blend,
    write_atlas,
)
from .errors import AtlasError
from .generator import MAX_VARIANTS, Generator

__all__ = ["Shard", "parse_shard", "bake_shard", "merge_shards", "MAX_SHARDS"]

MAX_SHARDS = 4096
# Settings that differ between the shards of one bake (the key range and the page numbering).
_PER_SHARD = frozenset({"first_key", "n", "page", "pages", "shard"})


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0 .. count-1) of ``count``."""

    index: int
    count: int

    def keys(self, first_key: int, n: int) -> tuple[int, int]:
        """(first key, number of keys) of this shard of the bake of keys first_key .. +n-1."""
        lo, hi = self.index * n // self.count, (self.index + 1) * n // self.count
        return first_key + lo, hi - lo

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str | Shard) -> Shard:
    """Parse ``I/N`` (shard I of N, I from 0 to N-1) into a Shard."""
    if isinstance(text, Shard):
        return text
    parts = str(text).split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise AtlasError(
            f"--shard {text!r}: write it as I/N, shard I of N counted from 0 (0/4, 1/4, 2/4, 3/4)"
        )
    index, count = int(parts[0]), int(parts[1])
    if not 1 <= count <= MAX_SHARDS:
        raise AtlasError(f"--shard {text!r}: N must be from 1 to {MAX_SHARDS}")
    if index >= count:
        raise AtlasError(
            f"--shard {text!r}: I counts from 0, so shard I of {count} is 0 to {count - 1}"
        )
    return Shard(index, count)


def _groups(gen: Generator, classes: Sequence[str], blends: Sequence[Blend | str]) -> list[str]:
    """Group names in the order build_atlas bakes them: classes, then blends; all classes if
    neither is given."""
    names = list(dict.fromkeys(classes))
    mixes = list(dict.fromkeys(b if isinstance(b, Blend) else parse_blend(b) for b in blends))
    if not names and not mixes:
        names = list(gen.classes)
    return names + [b.name for b in mixes]


def bake_shard(
    gen: Generator,
    out: str | os.PathLike,
    shard: Shard | str,
    n: int = 16,
    first_key: int = 0,
    **options: Any,
) -> BakeResult:
    """Bake shard I/N of the bake of keys first_key .. first_key+n-1 (other options as for
    bake_atlas) as an atlas of its own; merge_shards joins the N of them."""
    shard = parse_shard(shard)
    _stem(out)
    n = _check_int(n, "-n", 1, MAX_VARIANTS, " variants per class")
    first_key = _check_int(first_key, "--first-key", 0, _U64_MAX - (n - 1), f" (with -n {n})")
    if n < shard.count:
        raise AtlasError(
            f"--shard {shard}: {shard.count} shards need at least {shard.count} "
            f"keys per class, -n is {n}"
        )
    own_first, own_n = shard.keys(first_key, n)
    atlas = build_atlas(gen, n=own_n, first_key=own_first, **options)
    groups = _groups(gen, options.get("classes", ()), options.get("blends", ()))
    atlas.settings["shard"] = {
        "index": shard.index,
        "count": shard.count,
        "first_key": str(first_key),
        "n": n,
        "groups": groups,
    }
    paths = write_atlas(atlas, out)
    return BakeResult(paths, [(p.width, p.height) for p in atlas.pages], len(atlas.frames))


# --- merging -------------------------------------------------------------------------------
@dataclass
class _Page:
    path: Path
    meta: dict[str, Any]
    frames: dict[str, Any]
    pixels: np.ndarray


def _read_page(path: Path) -> _Page:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AtlasError(
            f"{path}: no such file; give the JSON files the shard bakes wrote"
        ) from None
    except (OSError, ValueError) as e:
        raise AtlasError(f"{path}: not readable as atlas JSON ({e})") from None
    meta = doc.get("meta") if isinstance(doc, dict) else None
    if not (
        isinstance(meta, dict)
        and meta.get("app") == "assetvae"
        and isinstance(meta.get("assetvae"), dict)
        and isinstance(doc.get("frames"), dict)
    ):
        raise AtlasError(f"{path}: not an atlas written by assetvae bake")
    if "shard" not in meta["assetvae"]:
        raise AtlasError(f"{path}: a whole bake, not a shard (bake shards with --shard I/N)")
    png = path.with_name(str(meta.get("image", "")))
    try:
        with Image.open(png) as im:
            pixels = np.asarray(im.convert("RGBA"))
    except OSError as e:
        raise AtlasError(f"{png}: cannot read the page of {path.name} ({e})") from None
    return _Page(path, meta, doc["frames"], pixels)


def _frames_of(page: _Page) -> list[Frame]:
    """The page's frames with the pixels the bake decoded (outside a trimmed box: transparent,
    as the bake never packs it)."""
    frames = []
    for name, f in page.frames.items():
        try:
            extra, r, s = f["assetvae"], f["frame"], f["spriteSourceSize"]
            key, group = int(extra["key"]), str(extra["class"])
            blend = extra.get("blend")
            blend = Blend(blend["a"], blend["b"], float(blend["t"])) if blend else None
            image = np.zeros((f["sourceSize"]["h"], f["sourceSize"]["w"], 4), np.uint8)
            sprite = page.pixels[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]]
            image[s["y"] : s["y"] + s["h"], s["x"] : s["x"] + s["w"]] = sprite
        except (KeyError, TypeError, ValueError) as e:
            raise AtlasError(f"{page.path}: frame {name!r} is damaged ({e!r})") from None
        if name != f"{group}/{key:04d}":
            raise AtlasError(f"{page.path}: frame {name!r} does not match its class and key")
        frames.append(Frame(name, group, key, image, blend, (s["x"], s["y"], s["w"], s["h"])))
    return frames


def _common(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in _PER_SHARD}


def merge_shards(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> BakeResult:
    """Merge the atlases of shards 0..N-1 of one bake (any of each shard's page JSON files;
    the others are found through ``related_multi_packs``) into the atlas the whole bake
    writes, byte for byte. Raises AtlasError when a shard is missing or does not belong."""
    stem = _stem(out)
    if not paths:
        raise AtlasError("give the JSON files of every shard of the bake")
    pages: dict[Path, _Page] = {}
    queue = [Path(p) for p in paths]
    while queue:
        path = queue.pop()
        if path.resolve() in pages:
            continue
        page = pages[path.resolve()] = _read_page(path)
        queue += [path.with_name(str(j)) for j in page.meta.get("related_multi_packs", ())]

    first = next(iter(pages.values()))
    settings, shard_info = first.meta["assetvae"], first.meta["assetvae"]["shard"]
    whole = {k: v for k, v in shard_info.items() if k != "index"}
    by_shard: dict[int, list[_Page]] = {}
    for page in pages.values():
        s = page.meta["assetvae"]
        other = {k: v for k, v in s["shard"].items() if k != "index"}
        if _common(s) != _common(settings) or other != whole:
            diff = sorted(
                k
                for k in set(_common(s)) | set(_common(settings))
                if _common(s).get(k) != _common(settings).get(k)
            ) or ["shard"]
            raise AtlasError(
                f"{page.path} and {first.path} are shards of different bakes "
                f"(they differ in {', '.join(diff)})"
            )
        by_shard.setdefault(s["shard"]["index"], []).append(page)

    count, full_first, full_n = whole["count"], int(whole["first_key"]), whole["n"]
    missing = [i for i in range(count) if i not in by_shard]
    if missing:
        raise AtlasError(
            f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing: "
            "give the JSON files of every shard of the bake"
        )
    groups: dict[str, list[Frame]] = {g: [] for g in whole["groups"]}
    for index in range(count):
        shard_pages = by_shard[index]
        n_pages = shard_pages[0].meta["assetvae"]["pages"]
        if sorted(p.meta["assetvae"]["page"] for p in shard_pages) != list(range(n_pages)):
            raise AtlasError(f"shard {index}/{count}: some of its {n_pages} pages are missing")
        own_first, own_n = Shard(index, count).keys(full_first, full_n)
        want = list(range(own_first, own_first + own_n))
        frames = [f for p in shard_pages for f in _frames_of(p)]
        for g in groups:
            keys = sorted(f.key for f in frames if f.group == g)
            if keys != want:
                raise AtlasError(
                    f"shard {index}/{count} ({shard_pages[0].path}): class {g!r} "
                    f"does not hold keys {own_first}..{own_first + own_n - 1}"
                )
        if len(frames) != len(want) * len(groups):
            raise AtlasError(
                f"shard {index}/{count} ({shard_pages[0].path}) holds frames of "
                "classes the bake does not name"
            )
        for f in frames:
            groups[f.group].append(f)

    # The whole bake's order: group by group, key by key.
    ordered = [f for g in groups.values() for f in sorted(g, key=lambda f: f.key)]
    atlas_pages = pack_frames(
        ordered, settings["padding"], settings["extrude"], settings["max_size"], settings["trim"]
    )
    merged = {**_common(settings), "first_key": str(full_first), "n": full_n}
    written = write_atlas(Atlas(atlas_pages, merged), stem)
    return BakeResult(written, [(p.width, p.height) for p in atlas_pages], len(ordered))
