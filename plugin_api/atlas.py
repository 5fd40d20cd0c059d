"""Baking variants into sprite atlases: PNG pages plus TexturePacker "JSON (Hash)" data.

What a build pipeline calls (``assetvae bake``) to turn a bundle into fixed textures::

    from assetvae.plugin_api import Generator
    from assetvae.plugin_api.atlas import bake_atlas

    gen = Generator.load("plants.avae.onnx")
    result = bake_atlas(gen, "build/forest", classes=["oak", "pine"], n=128, seed=42, spread=0.7)

Frames are named ``<class>/<key>`` (key zero-padded to 4 digits: ``oak/0017``); a blend's
frames ``<a>~<b>@<t>/<key>``. Every frame is a pure function of (bundle, seed, key, class,
spread, truncation), so a key range (``first_key``, ``n``) is a shard: its frames have the
same pixels as the same frames of a full bake, and the same bake twice gives the same bytes.

One page: ``NAME.png`` + ``NAME.json``. Several pages (TexturePacker's multipack
convention): ``NAME_0.png`` + ``NAME_0.json``, ``NAME_1.png`` + ``NAME_1.json``, ...; each
JSON describes its own page and lists the other pages' JSON files in
``meta.related_multi_packs`` (PixiJS follows it). All files are written to temporary files
first and renamed into place together at the end, so a failed bake leaves no half set.

Imports numpy and Pillow only (and the rest of plugin_api).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .errors import AtlasError
from .fileio import atomic_path
from .generator import MAX_VARIANTS, Generator
from .manifest import MAX_IMAGE_SIDE

__all__ = [
    "AtlasError",
    "Blend",
    "Frame",
    "Page",
    "Atlas",
    "BakeResult",
    "parse_blend",
    "build_atlas",
    "pack_frames",
    "atlas_files",
    "atlas_file_names",
    "write_atlas",
    "bake_atlas",
    "DEFAULT_MAX_SIZE",
    "DEFAULT_PADDING",
    "DEFAULT_EXTRUDE",
]

DEFAULT_MAX_SIZE = 2048
DEFAULT_PADDING = 2
DEFAULT_EXTRUDE = 1
MAX_MARGIN = 256  # padding / extrude
ATLAS_FORMAT_VERSION = "1.0"
PNG_COMPRESS_LEVEL = 6  # fixed, so the same pixels always give the same bytes
_U64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Blend:
    """Hybrids of two classes: t=0 is class a, t=1 is class b."""

    a: str
    b: str
    t: float

    @property
    def name(self) -> str:
        """The frame-name prefix, e.g. ``oak~pine@0.5``."""
        return f"{self.a}~{self.b}@{self.t:g}"

    @property
    def label(self) -> str:
        """A human label, e.g. ``oak~pine 0.5`` (a row of ``assetvae sample``)."""
        return f"{self.a}~{self.b} {self.t:g}"


def parse_blend(text: str) -> Blend:
    """Parse ``A:B:T`` (two class names and a blend amount 0..1) into a Blend."""
    parts = str(text).split(":")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise AtlasError(f"--blend {text!r}: write it as CLASS_A:CLASS_B:T, e.g. oak:pine:0.5")
    try:
        t = float(parts[2])
    except ValueError:
        raise AtlasError(
            f"--blend {text!r}: T must be a number from 0 to 1, got {parts[2]!r}"
        ) from None
    if not math.isfinite(t) or not 0.0 <= t <= 1.0:
        raise AtlasError(
            f"--blend {text!r}: T must be from 0 (all {parts[0]}) to 1 (all {parts[1]})"
        )
    return Blend(parts[0], parts[1], t)


@dataclass
class Frame:
    """One baked variant and where it lies on its page."""

    name: str  # "oak/0017"
    group: str  # class name, or the blend's name
    key: int
    image: np.ndarray  # uint8 [S, S, 4], the full decoded variant
    blend: Blend | None = None
    # the part of `image` that is packed (all of it unless trimmed): x, y, w, h
    src: tuple[int, int, int, int] = (0, 0, 0, 0)
    page: int = -1
    x: int = 0  # the sprite's top-left on the page (inside the extruded border)
    y: int = 0

    @property
    def trimmed(self) -> bool:
        s = self.image.shape
        return self.src != (0, 0, s[1], s[0])


@dataclass
class Page:
    index: int
    width: int
    height: int
    frames: list[Frame]
    pixels: np.ndarray | None = None  # uint8 [height, width, 4]


@dataclass
class Atlas:
    pages: list[Page]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> list[Frame]:
        return [f for p in self.pages for f in p.frames]


@dataclass
class BakeResult:
    paths: list[Path]  # every file written: the JSON files first, then the PNG pages
    pages: list[tuple[int, int]]  # (width, height) of each page
    frames: int


# --- packing -------------------------------------------------------------------------------
def _shelf(cells: Sequence[tuple[int, int]], width: int, height: int, gap: int):
    """Place cells (w, h) in order on shelves of at most width x height.

    Returns (positions of the cells that fit, in order; used width; used height). Stops at the
    first cell that does not fit, so the rest go to the next page in the same order.
    """
    placed: list[tuple[int, int]] = []
    x = y = shelf_h = used_w = used_h = 0
    for w, h in cells:
        if x > 0 and x + w > width:
            x, y, shelf_h = 0, y + shelf_h + gap, 0
        if x + w > width or y + h > height:
            break
        placed.append((x, y))
        used_w, used_h = max(used_w, x + w), max(used_h, y + h)
        x += w + gap
        shelf_h = max(shelf_h, h)
    return placed, used_w, used_h


def _pow2_at_least(v: int) -> int:
    return 1 << max(0, (v - 1).bit_length())


def _page_side(used: int, max_size: int) -> int:
    return min(_pow2_at_least(used), max_size)


def _pack(cells: list[tuple[int, int]], max_size: int, gap: int) -> list[tuple[int, int, list]]:
    """Pages as (width, height, [(x, y) per cell in order]); sides power-of-two, <= max_size."""
    pages = []
    start = 0
    while start < len(cells):
        rest = cells[start:]
        placed, uw, uh = _shelf(rest, max_size, max_size, gap)
        if not placed:  # cannot happen: every cell was checked against max_size
            raise AtlasError(
                f"a frame of {rest[0][0]}x{rest[0][1]} px does not fit in --max-size {max_size}"
            )
        if len(placed) == len(rest):
            # The last page: the narrowest shelf width that gives the smallest page.
            pw, ph = _page_side(uw, max_size), _page_side(uh, max_size)
            best = (pw * ph, max(pw, ph), max_size, placed, uw, uh)
            widest = max(w for w, _ in rest)
            width = _pow2_at_least(widest)
            while width < max_size:
                p, w2, h2 = _shelf(rest, width, max_size, gap)
                if len(p) == len(rest):
                    pw, ph = _page_side(w2, max_size), _page_side(h2, max_size)
                    cand = (pw * ph, max(pw, ph), width, p, w2, h2)
                    if cand[:3] < best[:3]:
                        best = cand
                width *= 2
            _, _, _, placed, uw, uh = best
        pages.append((_page_side(uw, max_size), _page_side(uh, max_size), placed))
        start += len(placed)
    return pages


def _opaque_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of the pixels with alpha > 0; a 1x1 box if none."""
    alpha = image[..., 3] > 0
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if len(rows) == 0:
        return (0, 0, 1, 1)
    return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


# --- building ------------------------------------------------------------------------------
def _check_int(value: Any, what: str, lo: int, hi: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise AtlasError(f"{what} {value!r} is out of range: use {lo} to {hi:,}{hint}")
    return int(value)


def build_atlas(
    gen: Generator,
    classes: Sequence[str] = (),
    blends: Sequence[Blend | str] = (),
    n: int = 16,
    seed: int = 0,
    spread: float = 1.0,
    truncation: float | None = None,
    first_key: int = 0,
    padding: int = DEFAULT_PADDING,
    extrude: int = DEFAULT_EXTRUDE,
    max_size: int = DEFAULT_MAX_SIZE,
    trim: bool = False,
) -> Atlas:
    """Decode and pack keys first_key .. first_key+n-1 of each class and blend, in memory.

    With neither classes nor blends given, every class of the bundle is baked. Everything is
    checked before anything is decoded; raises AtlasError or SamplingError.
    """
    n = _check_int(n, "-n", 1, MAX_VARIANTS, " variants per class")
    first_key = _check_int(first_key, "--first-key", 0, _U64_MAX - (n - 1), f" (with -n {n})")
    padding = _check_int(padding, "--padding", 0, MAX_MARGIN, " px")
    extrude = _check_int(extrude, "--extrude", 0, MAX_MARGIN, " px")
    max_size = _check_int(max_size, "--max-size", 1, MAX_IMAGE_SIDE, " px")
    blends = [b if isinstance(b, Blend) else parse_blend(b) for b in blends]
    classes = list(dict.fromkeys(classes))  # repeated --class: once
    blends = list(dict.fromkeys(blends))
    if not classes and not blends:
        classes = gen.classes
    request = {"seed": seed, "spread": spread, "truncation": truncation}
    for c in classes:  # no keys: checks the class, seed, spread and truncation (SamplingError)
        gen.latents(c, [], **request)
    for b in blends:
        gen.blend_latents(b.a, b.b, b.t, [], **request)
    spread = float(spread)
    size = gen.image_size
    if not trim and size + 2 * extrude > max_size:
        raise AtlasError(_too_small(max_size, size, size, extrude))

    keys = range(first_key, first_key + n)
    frames: list[Frame] = []
    groups: list[tuple[str, Blend | None, np.ndarray]] = []
    for c in classes:
        groups.append((c, None, gen.variants(c, keys, **request)))
    for b in blends:
        groups.append((b.name, b, gen.blend(b.a, b.b, b.t, keys, **request)))
    for group, blend, images in groups:
        for key, image in zip(keys, images):
            src = _opaque_box(image) if trim else (0, 0, size, size)
            frames.append(Frame(f"{group}/{key:04d}", group, key, image, blend, src))

    pages = pack_frames(frames, padding, extrude, max_size, trim)

    settings = {
        "seed": str(int(seed)),
        "spread": spread,
        "truncation": truncation,
        "first_key": str(first_key),
        "n": n,
        "padding": padding,
        "extrude": extrude,
        "max_size": max_size,
        "trim": bool(trim),
        "image_size": size,
        "rng": gen.manifest.rng,
        "bundle": gen.path.name,
        "bundle_sha256": _sha256(gen.path),
    }
    return Atlas(pages, settings)


def pack_frames(
    frames: list[Frame], padding: int, extrude: int, max_size: int, trim: bool
) -> list[Page]:
    """Lay frames out on pages in bake order (tallest first when trimmed) and draw the pages.

    The one packing rule: a bake and a merge of its shards (plugin_api/shards.py) both call it,
    so the same frames in the same order give the same pages.
    """
    cells = [(f.src[2] + 2 * extrude, f.src[3] + 2 * extrude) for f in frames]
    for f, (w, h) in zip(frames, cells):
        if w > max_size or h > max_size:
            raise AtlasError(_too_small(max_size, f.src[2], f.src[3], extrude))
    order = list(range(len(frames)))
    if trim:  # tallest first packs shelves tightly; ties keep the bake order (stable sort)
        order.sort(key=lambda i: -cells[i][1])
    pages = []
    for p, (pw, ph, placed) in enumerate(_pack([cells[i] for i in order], max_size, padding)):
        page_frames = []
        for (x, y), i in zip(placed, order[: len(placed)]):
            f = frames[i]
            f.page, f.x, f.y = p, x + extrude, y + extrude
            page_frames.append(f)
        order = order[len(placed) :]
        pixels = np.zeros((ph, pw, 4), np.uint8)
        for f in page_frames:
            sx, sy, w, h = f.src
            sprite = f.image[sy : sy + h, sx : sx + w]
            if extrude:
                ring = (extrude, extrude)
                sprite = np.pad(sprite, (ring, ring, (0, 0)), mode="edge")
            pixels[f.y - extrude : f.y + h + extrude, f.x - extrude : f.x + w + extrude] = sprite
        pages.append(Page(p, pw, ph, page_frames, pixels))
    return pages


def _too_small(max_size: int, w: int, h: int, extrude: int) -> str:
    cell = f"{max(w, h)} px" + (f" + 2 x {extrude} px extrude" if extrude else "")
    return f"--max-size {max_size} is smaller than one frame ({cell}); raise --max-size"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- files ---------------------------------------------------------------------------------
def _rect(x: int, y: int, w: int, h: int) -> dict[str, int]:
    return {"x": x, "y": y, "w": w, "h": h}


def _frame_json(f: Frame, settings: dict[str, Any]) -> dict[str, Any]:
    sx, sy, w, h = f.src
    s = f.image.shape
    extra: dict[str, Any] = {
        "class": f.group,
        "seed": settings["seed"],
        "key": str(f.key),
        "spread": settings["spread"],
    }
    if settings["truncation"] is not None:
        extra["truncation"] = settings["truncation"]
    if f.blend is not None:
        extra["blend"] = {"a": f.blend.a, "b": f.blend.b, "t": f.blend.t}
    return {
        "frame": _rect(f.x, f.y, w, h),
        "rotated": False,
        "trimmed": f.trimmed,
        "spriteSourceSize": _rect(sx, sy, w, h),
        "sourceSize": {"w": s[1], "h": s[0]},
        "pivot": {"x": 0.5, "y": 0.5},
        "assetvae": extra,
    }


def atlas_file_names(stem: str, pages: int) -> list[tuple[str, str]]:
    """(json name, png name) of each page: NAME.json/NAME.png, or NAME_i.json/NAME_i.png."""
    if pages == 1:
        return [(f"{stem}.json", f"{stem}.png")]
    return [(f"{stem}_{i}.json", f"{stem}_{i}.png") for i in range(pages)]


def _encode_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels), "RGBA").save(
        buf, format="PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL
    )
    return buf.getvalue()


def page_meta(png_name: str, page, settings: dict[str, Any], n_pages: int) -> dict[str, Any]:
    """TexturePacker's "meta" of one page (its PNG, size, format), with our bake settings."""
    return {
        "app": "assetvae",
        "version": ATLAS_FORMAT_VERSION,
        "image": png_name,
        "format": "RGBA8888",
        "size": {"w": page.width, "h": page.height},
        "scale": "1",
        "assetvae": {**settings, "page": page.index, "pages": n_pages},
    }


def atlas_files(atlas: Atlas, stem: str) -> dict[str, bytes]:
    """File name -> bytes: the JSON files (page order) then the PNG pages. Deterministic."""
    names = atlas_file_names(stem, len(atlas.pages))
    jsons: dict[str, bytes] = {}
    pngs: dict[str, bytes] = {}
    for page, (json_name, png_name) in zip(atlas.pages, names):
        meta = page_meta(png_name, page, atlas.settings, len(atlas.pages))
        if len(atlas.pages) > 1:
            meta["related_multi_packs"] = [j for j, _ in names if j != json_name]
        frames = {f.name: _frame_json(f, atlas.settings) for f in page.frames}
        doc = {"frames": frames, "meta": meta}
        text = json.dumps(doc, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        jsons[json_name] = text.encode("utf-8")
        pngs[png_name] = _encode_png(page.pixels)
    return {**jsons, **pngs}


def _stem(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.suffix.lower() in (".png", ".json"):
        out = out.with_suffix("")
    if not out.name or out.name in (".", ".."):
        raise AtlasError(f"-o {str(out)!r}: give a file name stem, e.g. build/forest")
    return out


def write_atlas(atlas: Atlas, out: str | os.PathLike) -> list[Path]:
    """Write the atlas as OUT.png/OUT.json (or OUT_i.png/OUT_i.json per page).

    Every file goes to a temporary file beside its target first; only when all are written
    are they renamed into place (PNG pages first, the first page's JSON last), so a failure
    while writing leaves the old files (or none), never a half set.
    """
    stem = _stem(out)
    files = atlas_files(atlas, stem.name)
    paths = [stem.with_name(name) for name in files]
    with contextlib.ExitStack() as stack:
        # Renames run in reverse order of entry: the PNGs, then the JSONs, NAME(_0).json last.
        temps = [stack.enter_context(atomic_path(p)) for p in paths]
        for tmp, data in zip(temps, files.values()):
            tmp.write_bytes(data)
    return paths


def bake_atlas(gen: Generator, out: str | os.PathLike, **options: Any) -> BakeResult:
    """build_atlas(gen, **options) then write_atlas(atlas, out)."""
    _stem(out)  # a bad output name is reported before decoding anything
    atlas = build_atlas(gen, **options)
    paths = write_atlas(atlas, out)
    return BakeResult(paths, [(p.width, p.height) for p in atlas.pages], len(atlas.frames))
