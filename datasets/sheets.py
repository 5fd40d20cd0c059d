"""Sprite sheets and atlases: cut them into frames that know which animation they belong to.

Besides single sprites, a class folder may hold:

- grid sheets: ``--grid 32x32`` (with a margin and spacing) cuts every plain image into
  cells, row by row; ``--grid auto`` finds grids whose cells are separated by transparent
  gutters. A sheet is one animation, named after the file;
- TexturePacker JSON, hash or array (``NAME.json`` beside its image, named in
  ``meta.image``): rotated frames are turned back, trimmed ones put back on their canvas.
  Frames listed under ``animations``, or with numbered names (``walk_01.png``), are
  animations; the rest are stills;
- Aseprite JSON: the same frames; ``meta.frameTags`` become animations (with their
  ``direction``, and each frame's ``duration``); a file without tags is one animation;
- pingus ``.sprite`` files: ``(image "../walker.png") (position 0 32) (array 8 1)
  (size 32 32) (speed 80)``, the animation named after the ``.sprite`` file;
- freedroid ``atlas.txt``: pages ``* PAGE.png size W H``, then ``NAME x y w h off X Y`` per
  frame (trimmed frames and where each sits from the sprite's anchor); numbered names are
  animations;
- numbered files of one pixel size (``walk_0.png``, ``walk_1.png``, ...): one animation,
  unless they are the whole class and named after it (``oak_000.png`` ... are stills).

Every loaded image carries a FrameRef: the sheet it came from (its *instance*: the data file,
or the image, relative to the class folder), its animation and its index in it. The frames of
one animation are cropped to the union of their opaque areas and fitted into the square
together, so their motion relative to each other survives; a still is cropped alone, as a
single file is. Problems with one file (a grid that does not divide it, a frame outside its
image, an empty frame, a data file that cannot be read) are one-line warnings naming the
file; the rest of the folder still loads.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ConfigError, DatasetError, ImageLoadError
from ..plugin_api.images import fit_square
from .folder import (
    MAX_ASPECT,
    MAX_SIZE,
    MIN_SIDE,
    MIN_SIZE,
    AssetFolder,
    LoadedDataset,
    LoadOptions,
    cache_dir,
    load_folder,
    load_image_cached,
    read_rgba,
    scan_folder,
)
from .grid import block_factor, place_native

DEFAULT_DURATION_MS = 100
DIRECTIONS = ("forward", "reverse", "pingpong", "pingpong_reverse")
MAX_FRAMES_PER_SHEET = 100_000
MAX_NUMBERED_FRAMES = 128  # numbered files beyond this many are a numbered set of stills
MAX_WARNINGS = 20  # one line per file up to this many, then a count
_IMAGE_SUFFIX = re.compile(r"\.(png|jpe?g|webp|gif|bmp|tga|aseprite|ase)$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(.*?)[\W_]*(\d+)$")
_GRID = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


class SheetError(DatasetError):
    """One sheet or data file that cannot be used as asked (reported as a warning naming it)."""


@dataclass(frozen=True)
class FrameRef:
    """Where a training image sits in an animation."""

    instance: str  # the sheet it came from, relative to its class folder, without suffix
    animation: str
    index: int  # 0, 1, ... in playback order
    duration_ms: int = DEFAULT_DURATION_MS
    direction: str = "forward"  # Aseprite's tag directions


@dataclass(frozen=True)
class SheetOptions:
    """How plain images are cut: grid (w, h) in px, "auto" (find gutters), or None (not cut)."""

    grid: tuple[int, int] | str | None = None
    margin: int = 0
    spacing: int = 0

    def active(self) -> bool:
        return self.grid is not None


def parse_grid(text: str | None) -> tuple[int, int] | str | None:
    """``--grid``: "32x32" -> (32, 32), "auto", or None. ConfigError for anything else."""
    if text is None or text == "":
        return None
    if text.strip().lower() == "auto":
        return "auto"
    m = _GRID.match(text)
    if not m or not all(0 < int(v) <= 16384 for v in m.groups()):
        raise ConfigError(
            f"--grid {text!r}: write the frame size as WIDTHxHEIGHT in px (e.g. 32x32), or auto"
        )
    return int(m.group(1)), int(m.group(2))


@dataclass
class Cut:
    """One frame a data file or grid describes, in its sheet's pixels."""

    name: str
    box: tuple[int, int, int, int]  # x, y, w, h of the frame as shown (before any rotation)
    rotated: bool = False  # stored turned 90 degrees clockwise: the sheet region is h x w
    offset: tuple[int, int] = (0, 0)  # where the region's top-left sits on the frame canvas
    canvas: tuple[int, int, int, int] | None = None  # the untrimmed frame: x, y, w, h
    animation: str = ""  # "" for a still
    index: int = -1
    duration_ms: int = DEFAULT_DURATION_MS
    direction: str = "forward"


@dataclass
class Sheet:
    """One image and the frames to cut from it; cuts None means "find a grid" (--grid auto)."""

    image: Path
    instance: str
    source: Path  # the data file, or the image itself for grids
    cuts: list[Cut] | None
    kind: str  # "grid", "texturepacker", "aseprite", "pingus", "freedroid"


@dataclass
class FileFrame:
    """A whole image file: a still (ref None) or a numbered frame of an animation."""

    path: Path
    ref: FrameRef | None = None


@dataclass
class FolderPlan:
    folder: AssetFolder
    sources: dict[str, list[Sheet | FileFrame]]
    problems: list[str] = field(default_factory=list)

    @property
    def animated(self) -> bool:
        """Whether the folder needs the sheet loader (else it loads as plain stills)."""
        return any(
            isinstance(s, Sheet) or s.ref is not None
            for srcs in self.sources.values()
            for s in srcs
        )


# --- reading the formats ------------------------------------------------------------------
def frame_group(name: str) -> tuple[str, int | None]:
    """("walk", 3) for walk_03.png, walk/0003, walk-3; (name, None) without a number."""
    stem = _IMAGE_SUFFIX.sub("", name)
    m = _NUMBERED.match(stem)
    if not m or not m.group(1).strip(" _-/."):
        return stem, None
    return m.group(1).rstrip(" _-/."), int(m.group(2))


def _animate_numbered(cuts: list[Cut]) -> None:
    """Cuts whose names share a prefix and end in numbers become that animation (2 or more)."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for i, c in enumerate(cuts):
        if c.animation:
            continue
        prefix, number = frame_group(c.name)
        if number is not None:
            groups.setdefault(prefix, []).append((number, i))
    for prefix, members in groups.items():
        if len(members) < 2:
            continue
        for index, (_, i) in enumerate(sorted(members)):
            cuts[i].animation, cuts[i].index = prefix, index


def _int_field(d: dict, key: str, where: str, default: int | None = None) -> int:
    v = d.get(key, default)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SheetError(f"{where}: {key} must be a whole number, got {v!r}")
    return v


def _rect(d, where: str) -> tuple[int, int, int, int]:
    if not isinstance(d, dict):
        raise SheetError(f"{where}: expected an object with x, y, w, h")
    return tuple(_int_field(d, k, where, 0 if k in "xy" else None) for k in ("x", "y", "w", "h"))


def parse_atlas_json(doc, where: str, stem: str) -> tuple[str | None, list[Cut], str]:
    """TexturePacker (hash or array) or Aseprite JSON -> (image name, cuts, kind)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("frames"), (dict, list)):
        raise SheetError(f"{where}: not a sprite atlas (no 'frames' object or list)")
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    raw = doc["frames"]
    if isinstance(raw, dict):
        entries = list(raw.items())
    else:  # the array form names each frame in "filename"
        entries = [
            (f.get("filename", str(i)) if isinstance(f, dict) else str(i), f)
            for i, f in enumerate(raw)
        ]
    cuts = []
    for name, f in entries:
        at = f"{where}: frame {name!r}"
        if not isinstance(f, dict):
            raise SheetError(f"{at}: expected an object")
        x, y, w, h = _rect(f.get("frame"), at)
        rotated = bool(f.get("rotated", False))
        offset, canvas = (0, 0), None
        if f.get("trimmed") and isinstance(f.get("spriteSourceSize"), dict):
            sx, sy, _, _ = _rect(f["spriteSourceSize"], at + " spriteSourceSize")
            offset = (sx, sy)
        source = f.get("sourceSize")
        if isinstance(source, dict):
            canvas = (0, 0, _int_field(source, "w", at), _int_field(source, "h", at))
        duration = f.get("duration", DEFAULT_DURATION_MS)
        duration = (
            int(duration)
            if isinstance(duration, (int, float)) and duration > 0
            else DEFAULT_DURATION_MS
        )
        cuts.append(Cut(str(name), (x, y, w, h), rotated, offset, canvas, duration_ms=duration))
    app = str(meta.get("app", "")).lower()
    tags = meta.get("frameTags")
    kind = "aseprite" if "aseprite" in app or isinstance(tags, list) else "texturepacker"
    if isinstance(tags, list) and tags:
        _apply_tags(cuts, tags, where)
    elif kind == "aseprite":  # an Aseprite file without tags is one animation
        for i, c in enumerate(cuts):
            c.animation, c.index = stem, i
    elif isinstance(doc.get("animations"), dict):  # TexturePacker / PixiJS / Phaser lists
        by_name = {c.name: c for c in cuts}
        for anim, names in doc["animations"].items():
            if not isinstance(names, list):
                raise SheetError(f"{where}: animations[{anim!r}] must be a list of frame names")
            missing = [n for n in names if n not in by_name]
            if missing:
                raise SheetError(
                    f"{where}: animation {anim!r} names frame {missing[0]!r}, "
                    "which is not in frames"
                )
            for i, n in enumerate(names):
                by_name[n].animation, by_name[n].index = str(anim), i
    else:
        _animate_numbered(cuts)
    image = meta.get("image")
    return (str(image) if isinstance(image, str) and image else None), cuts, kind


def _apply_tags(cuts: list[Cut], tags: list, where: str) -> None:
    """Aseprite frameTags: each tag's frames from..to (inclusive) are one animation. A frame in
    several tags is cut once per tag."""
    extra = []
    for t in tags:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise SheetError(f"{where}: frameTags entries need a name")
        lo, hi = _int_field(t, "from", where), _int_field(t, "to", where)
        if not 0 <= lo <= hi < len(cuts):
            raise SheetError(
                f"{where}: tag {t['name']!r} spans frames {lo}..{hi}, but the file "
                f"has {len(cuts)} frames"
            )
        direction = t.get("direction", "forward")
        direction = direction if direction in DIRECTIONS else "forward"
        for index, i in enumerate(range(lo, hi + 1)):
            c = cuts[i]
            if c.animation:  # already in an earlier tag: a copy for this one
                c = Cut(c.name, c.box, c.rotated, c.offset, c.canvas, duration_ms=c.duration_ms)
                extra.append(c)
            c.animation, c.index, c.direction = t["name"], index, direction
    cuts.extend(extra)


_SEXP_ITEM = re.compile(r"\(\s*([A-Za-z][\w-]*)\s+([^()]*)\)")


def parse_pingus_sprite(text: str, where: str) -> dict:
    """A pingus ``.sprite`` file -> {"image", "array", "size", "position", "speed", "loop"}."""
    if "pingus-sprite" not in text:
        raise SheetError(f"{where}: not a pingus sprite (no 'pingus-sprite' form)")
    out: dict = {}
    for key, value in _SEXP_ITEM.findall(text):
        value = value.strip()
        if key == "image":
            m = re.match(r'^"(.*)"$', value)
            if not m:
                raise SheetError(f"{where}: (image ...) must hold a quoted file name")
            out["image"] = m.group(1)
        elif key in ("array", "size", "position", "offset"):
            nums = value.split()
            if len(nums) != 2 or not all(re.fullmatch(r"-?\d+", n) for n in nums):
                raise SheetError(f"{where}: ({key} ...) must hold two whole numbers")
            out[key] = (int(nums[0]), int(nums[1]))
        elif key == "speed" and re.fullmatch(r"\d+", value):
            out["speed"] = int(value)
        elif key == "loop":
            out["loop"] = value != "#f"
    if "image" not in out:
        raise SheetError(f'{where}: no (image "...") form')
    return out


def pingus_cuts(spec: dict, image_size: tuple[int, int], animation: str, where: str) -> list[Cut]:
    """The frames of a parsed .sprite on an image of image_size (w, h)."""
    cols, rows = spec.get("array", (1, 1))
    if cols < 1 or rows < 1:
        raise SheetError(f"{where}: (array {cols} {rows}) needs at least one frame")
    px, py = spec.get("position", (0, 0))
    iw, ih = image_size
    w, h = spec.get("size", ((iw - px) // cols, (ih - py) // rows))
    speed = spec.get("speed", DEFAULT_DURATION_MS) or DEFAULT_DURATION_MS
    single = cols * rows == 1
    cuts = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            cuts.append(
                Cut(
                    f"{animation}/{i}",
                    (px + c * w, py + r * h, w, h),
                    animation="" if single else animation,
                    index=-1 if single else i,
                    duration_ms=speed,
                )
            )
    return cuts


def parse_freedroid_atlas(text: str, where: str) -> list[tuple[str, list[Cut]]]:
    """freedroid's atlas.txt -> [(page image name, cuts)]; numbered names are animations."""
    pages: list[tuple[str, list[Cut]]] = []
    all_cuts: list[Cut] = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] == "*":
            if len(parts) < 2:
                raise SheetError(f"{where}:{n}: a page line needs an image name")
            pages.append((parts[1], []))
            continue
        if not pages:
            raise SheetError(f"{where}:{n}: a frame before the first '* PAGE.png' line")
        nums = parts[1:5] + parts[6:8] if len(parts) >= 8 and parts[5] == "off" else parts[1:5]
        if len(nums) not in (4, 6) or not all(re.fullmatch(r"-?\d+", v) for v in nums):
            raise SheetError(f"{where}:{n}: expected 'NAME x y w h off X Y', got {line.strip()!r}")
        x, y, w, h, *off = (int(v) for v in nums)
        ox, oy = off if off else (0, 0)
        cut = Cut(parts[0], (x, y, w, h), offset=(ox, oy), canvas=(ox, oy, w, h))
        pages[-1][1].append(cut)
        all_cuts.append(cut)
    _animate_numbered(all_cuts)  # an animation may run across pages
    return pages


def grid_cuts(
    size: tuple[int, int],
    cell: tuple[int, int],
    margin: int,
    spacing: int | tuple[int, int],
    where: str,
    animation: str,
) -> list[Cut]:
    """Cells of cell (w, h) px on an image of size (w, h), row by row; spacing between cells
    (one number, or (x, y)). A trailing spacing is allowed; any other remainder is a
    SheetError."""
    (iw, ih), (cw, ch) = size, cell
    sx, sy = (spacing, spacing) if isinstance(spacing, int) else spacing
    counts = []
    for total, c, gap in ((iw, cw, sx), (ih, ch, sy)):
        inner = total - 2 * margin
        n = (inner + gap) // (c + gap) if inner >= c else 0
        rest = inner - n * c - max(0, n - 1) * gap
        if n < 1 or rest not in (0, gap):
            raise SheetError(
                f"{where}: {iw}x{ih} px is not a whole number of {cw}x{ch} frames (margin "
                f"{margin}, spacing {spacing}); skipped; check --grid, --grid-margin and "
                "--grid-spacing"
            )
        counts.append(n)
    cols, rows = counts
    if cols * rows == 1:  # one cell: a still
        return [Cut(animation, (margin, margin, cw, ch))]
    return [
        Cut(
            f"{animation}/{r * cols + c}",
            (margin + c * (cw + sx), margin + r * (ch + sy), cw, ch),
            animation=animation,
            index=r * cols + c,
        )
        for r in range(rows)
        for c in range(cols)
    ]


def _runs(occupied: np.ndarray) -> np.ndarray:
    """[start, end) of each run of True, as int64 [runs, 2]."""
    d = np.diff(np.concatenate([[0], occupied.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


def _divisions(occupied: np.ndarray) -> tuple[int, int, int]:
    """How transparent gutters split one axis into n equal cells: (n, cell size, spacing).

    Cells start every `pitch` px and the last one ends at the edge (cell = length - (n - 1) *
    pitch; the gap between cells is pitch - cell). A pitch fits when no opaque run crosses a
    cell's edge and every cell holds something. n is the most that fits, up to the number of
    runs. Of its pitches, the one where the cells' contents sit most alike (the spread of
    their centres in their cells: a sprite animated in place stays put); on a tie, cells
    without gaps, else the tightest pitch.
    (1, length, 0) if nothing fits.
    """
    runs, length = _runs(occupied), len(occupied)
    for n in range(len(runs), 1, -1):
        best: tuple[float, int, int] | None = None
        for pitch in range(-(-length // n), (length - 1) // (n - 1) + 1):
            cell = length - (n - 1) * pitch
            if cell < 1:
                break
            k = runs[:, 0] // pitch
            last = runs[:, 1] - 1
            if not (
                (last // pitch == k).all()
                and (last - k * pitch < cell).all()
                and len(np.unique(k)) == n
            ):
                continue
            lo = np.full(n, length, np.int64)  # per cell: its first and last opaque px
            hi = np.zeros(n, np.int64)
            np.minimum.at(lo, k, runs[:, 0] - k * pitch)
            np.maximum.at(hi, k, runs[:, 1] - k * pitch)
            cost = float(np.ptp(lo + hi))
            if best is None or cost < best[0] or (cost == best[0] and cell == pitch):
                best = (cost, cell, pitch - cell)
        if best is not None:
            return n, best[1], best[2]
    return 1, length, 0


def detect_grid(alpha: np.ndarray) -> tuple[int, int, int, int, int, int] | None:
    """(cols, rows, cell width, cell height, spacing x, spacing y) of a grid of equal cells
    separated by transparent gutters, or None."""
    opaque = alpha > 0
    (cols, cw, sx), (rows, ch, sy) = _divisions(opaque.any(axis=0)), _divisions(opaque.any(axis=1))
    return (cols, rows, cw, ch, sx, sy) if cols * rows >= 2 else None


# --- planning a folder --------------------------------------------------------------------
def _relative(path: Path, base: Path) -> str:
    try:
        rel = path.relative_to(base)
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def _folder_name(folder: Path, base: Path) -> str:
    try:
        rel = folder.relative_to(base).as_posix()
    except ValueError:
        rel = folder.name
    return "" if rel == "." else rel


def _data_files(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            low = name.lower()
            data = low.endswith((".json", ".sprite")) or low == "atlas.txt"
            if data and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as e:  # the loader reports unreadable images with the full reason
        raise SheetError(f"{path}: cannot read its size ({e.__class__.__name__})") from None


def _plan_data_file(path: Path, class_dir: Path) -> list[Sheet]:
    """The sheets one data file describes. SheetError for a file that cannot be used."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SheetError(f"{where}: cannot read ({e.__class__.__name__}); skipped") from None
    low = path.name.lower()
    if low.endswith(".json"):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise SheetError(f"{where}: not valid JSON ({str(e)[:80]}); skipped") from None
        image, cuts, kind = parse_atlas_json(doc, where, path.stem)
        image_path = Path(os.path.normpath(path.parent / (image or f"{path.stem}.png")))
        instance = _relative(path, class_dir)
        pages = [(image_path, cuts)]
    elif low.endswith(".sprite"):
        spec = parse_pingus_sprite(text, where)
        image_path = Path(os.path.normpath(path.parent / spec["image"]))
        kind = "pingus"
        if not image_path.is_file():
            raise SheetError(f"{where}: its image {spec['image']!r} is missing; skipped")
        rel = os.path.relpath(path.with_suffix(""), image_path.parent)
        animation = Path(path.stem).as_posix() if rel.startswith("..") else Path(rel).as_posix()
        cuts = pingus_cuts(spec, _image_size(image_path), animation, where)
        instance = _relative(image_path, class_dir)
        pages = [(image_path, cuts)]
    else:
        kind = "freedroid"
        instance = _relative(path, class_dir)
        pages = [(path.parent / name, cuts) for name, cuts in parse_freedroid_atlas(text, where)]
    sheets = []
    for image_path, cuts in pages:
        if not image_path.is_file():
            raise SheetError(f"{where}: its image {image_path.name!r} is missing; skipped")
        if len(cuts) > MAX_FRAMES_PER_SHEET:
            raise SheetError(f"{where}: {len(cuts)} frames, more than {MAX_FRAMES_PER_SHEET}")
        sheets.append(Sheet(image_path, instance, path, cuts, kind))
    return sheets


def _numbered_files(files: list[Path], class_dir: Path, class_name: str) -> dict[Path, FrameRef]:
    """Plain files that are frames of animations: numbered, 2 to MAX_NUMBERED_FRAMES of one
    pixel size in one folder, unless they are the whole class and named after it (oak_000.png,
    oak_001.png, ...: stills). Longer runs of numbers are a numbered set of stills."""
    groups: dict[tuple[Path, str], list[tuple[int, Path]]] = {}
    for p in files:
        prefix, number = frame_group(p.name)
        if number is not None:
            groups.setdefault((p.parent, prefix), []).append((number, p))
    stems = {(p.parent, frame_group(p.name)[0]) for p in files}
    out: dict[Path, FrameRef] = {}
    for (parent, prefix), members in groups.items():
        if not 2 <= len(members) <= MAX_NUMBERED_FRAMES or (
            len(stems) == 1 and prefix.lower() == class_name.lower()
        ):
            continue
        try:
            sizes = {_image_size(p) for _, p in members}
        except SheetError:
            continue  # an unreadable member: the loader reports it; the rest stay stills
        if len(sizes) != 1:
            continue
        instance = _folder_name(parent, class_dir)
        for index, (_, p) in enumerate(sorted(members)):
            out[p] = FrameRef(instance, prefix, index)
    return out


def _real(path: Path) -> Path:
    """The path with links resolved, or as given when they loop (the loader reports that)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _meant_images(data: Path, files: list[Path]) -> set[Path]:
    """The images a data file that could not be read was most likely about, so a whole sheet
    is not mistaken for one sprite: the same stem beside it, or an atlas.txt folder's images."""
    if data.name.lower() == "atlas.txt":
        return {_real(p) for p in files if p.parent == data.parent}
    return {_real(p) for p in files if p.parent == data.parent and p.stem == data.stem}


def plan_folder(folder: AssetFolder, options: SheetOptions | None = None) -> FolderPlan:
    """What each class holds: sheets (with the frames their data files or the grid give) and
    whole files (stills, or numbered frames). Data files that cannot be used are problems."""
    options = options or SheetOptions()
    sources: dict[str, list[Sheet | FileFrame]] = {}
    problems: list[str] = []
    for cls in folder.classes:
        class_dir = folder.root / cls if (folder.root / cls).is_dir() else folder.root
        sheets: list[Sheet] = []
        claimed: set[Path] = set()
        for data in _data_files(class_dir):
            try:
                sheets.extend(_plan_data_file(data, class_dir))
            except SheetError as e:
                problems.append(str(e))
                claimed |= _meant_images(data, folder.files[cls])
        claimed |= {_real(s.image) for s in sheets}
        # Several .sprite files may cut one image: one sheet per image, their cuts together.
        merged: dict[tuple[Path, str], Sheet] = {}
        for s in sheets:
            key = (_real(s.image), s.instance)
            if key in merged:
                merged[key].cuts.extend(s.cuts)
            else:
                merged[key] = s
        plain = (
            [p for p in folder.files[cls] if _real(p) not in claimed]
            if claimed
            else list(folder.files[cls])
        )
        # --grid WxH: every plain image is a sheet; otherwise numbered files may be frames.
        numbered = {} if isinstance(options.grid, tuple) else _numbered_files(plain, class_dir, cls)
        srcs: list[Sheet | FileFrame] = list(merged.values())
        for p in plain:
            if p in numbered:
                srcs.append(FileFrame(p, numbered[p]))
            elif isinstance(options.grid, tuple) or options.grid == "auto":
                cuts = None
                if isinstance(options.grid, tuple):
                    try:
                        cuts = grid_cuts(
                            _image_size(p),
                            options.grid,
                            options.margin,
                            options.spacing,
                            str(p),
                            p.stem,
                        )
                    except SheetError as e:
                        problems.append(str(e))
                        continue
                srcs.append(Sheet(p, _relative(p, class_dir), p, cuts, "grid"))
            else:
                srcs.append(FileFrame(p))
        sources[cls] = srcs
    return FolderPlan(folder, sources, problems)


# --- cutting and fitting ------------------------------------------------------------------
@dataclass
class _Piece:
    """A cut-out frame: its pixels and where they sit on its animation's canvas."""

    pixels: np.ndarray  # uint8 [h, w, 4]
    offset: tuple[int, int]
    canvas: tuple[int, int, int, int]
    ref: FrameRef | None
    path: Path


def cut_region(sheet: np.ndarray, cut: Cut, where: str) -> np.ndarray:
    """The pixels of one cut, turned back upright if the atlas stored it rotated."""
    x, y, w, h = cut.box
    rw, rh = (h, w) if cut.rotated else (w, h)
    ih, iw = sheet.shape[:2]
    if w < 1 or h < 1 or x < 0 or y < 0 or x + rw > iw or y + rh > ih:
        raise SheetError(
            f"{where}: frame {cut.name!r} ({x}, {y}, {rw}x{rh}) lies outside its image ({iw}x{ih})"
        )
    region = sheet[y : y + rh, x : x + rw]
    # TexturePacker turns a rotated frame 90 degrees clockwise; turning it back is
    # counter-clockwise (np.rot90's direction).
    return np.ascontiguousarray(np.rot90(region)) if cut.rotated else region


def _opaque_box(a: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(a[..., 3])
    if len(ys) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def compose(pieces: list[_Piece], crop: bool) -> list[np.ndarray]:
    """The frames of one animation on one shared canvas (the union of their opaque areas, or of
    their untrimmed frames without crop), so each keeps its place relative to the others."""
    boxes = []
    for p in pieces:
        if crop:
            x0, y0, x1, y1 = _opaque_box(p.pixels)
            boxes.append((p.offset[0] + x0, p.offset[1] + y0, p.offset[0] + x1, p.offset[1] + y1))
        else:
            cx, cy, cw, ch = p.canvas
            h, w = p.pixels.shape[:2]
            boxes.append(
                (
                    min(cx, p.offset[0]),
                    min(cy, p.offset[1]),
                    max(cx + cw, p.offset[0] + w),
                    max(cy + ch, p.offset[1] + h),
                )
            )
    b = np.asarray(boxes)
    left, top, right, bottom = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    out = []
    for p in pieces:
        canvas = np.zeros((bottom - top, right - left, 4), np.uint8)
        h, w = p.pixels.shape[:2]
        x, y = p.offset[0] - left, p.offset[1] - top
        # clip to the canvas (without crop an offset frame may reach past its source size)
        sx0, sy0 = max(0, -x), max(0, -y)
        sx1, sy1 = min(w, canvas.shape[1] - x), min(h, canvas.shape[0] - y)
        if sx1 > sx0 and sy1 > sy0:
            canvas[y + sy0 : y + sy1, x + sx0 : x + sx1] = p.pixels[sy0:sy1, sx0:sx1]
        out.append(canvas)
    return out


def _fit(frames: list[np.ndarray], options: LoadOptions) -> list[np.ndarray]:
    if options.native:  # one block factor for the whole animation: the frames stay in step
        b = math.gcd(*[block_factor(a) for a in frames])
        return [place_native(a, options.size, b) for a in frames]
    return [fit_square(a, options.size, options.pixel_art) for a in frames]


def _shape_ok(a: np.ndarray) -> bool:
    h, w = a.shape[:2]
    return min(w, h) >= MIN_SIDE and max(w, h) <= MAX_ASPECT * min(w, h)


class _Problems:
    """Collects one-line warnings, one per file, and emits them capped."""

    def __init__(self, first: list[str]):
        self.lines = list(first)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def emit(self) -> None:
        for line in self.lines[:MAX_WARNINGS]:
            warnings.warn(line, stacklevel=3)
        if len(self.lines) > MAX_WARNINGS:
            warnings.warn(
                f"... and {len(self.lines) - MAX_WARNINGS} more sheet problem(s)", stacklevel=3
            )


def _sheet_pieces(
    sheet: Sheet, pixels: np.ndarray, log_notes: list[str], problems: _Problems
) -> list[_Piece]:
    """Cut one sheet. A grid of --grid auto is found here; without one, the image is a still."""
    cuts = sheet.cuts
    ih, iw = pixels.shape[:2]
    if cuts is None:
        found = detect_grid(pixels[..., 3])
        if found is None:
            return [_Piece(pixels, (0, 0), (0, 0, iw, ih), None, sheet.image)]
        cols, rows, cw, ch, sx, sy = found
        cuts = grid_cuts((iw, ih), (cw, ch), 0, (sx, sy), str(sheet.image), sheet.image.stem)
        log_notes.append(f"{sheet.image.name}: {cols}x{rows} frames of {cw}x{ch}")
    elif sheet.kind == "grid" and len(cuts) > 1:
        w, h = cuts[0].box[2:]
        cols = len({c.box[0] for c in cuts})
        log_notes.append(f"{sheet.image.name}: {cols}x{len(cuts) // cols} frames of {w}x{h}")
    pieces, outside, empty = [], [], []
    for cut in cuts:
        try:
            region = cut_region(pixels, cut, str(sheet.source))
        except SheetError as e:
            outside.append(str(e))
            continue
        if not region[..., 3].any():
            empty.append(cut.name)
            continue
        h, w = region.shape[:2]
        ref = (
            FrameRef(sheet.instance, cut.animation, cut.index, cut.duration_ms, cut.direction)
            if cut.animation
            else None
        )
        canvas = cut.canvas or (cut.offset[0], cut.offset[1], w, h)
        pieces.append(_Piece(region, cut.offset, canvas, ref, sheet.image))
    if outside:
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        problems.add(f"{outside[0]}{more}; skipped")
    if empty and sheet.kind != "grid":
        shown = ", ".join(repr(n) for n in empty[:3]) + (", ..." if len(empty) > 3 else "")
        problems.add(f"{sheet.source}: {len(empty)} empty frame(s) skipped ({shown})")
    return pieces


def _class_groups(
    sources: list[Sheet | FileFrame],
    crop: bool,
    notes: list[str],
    problems: _Problems,
    skipped: list[tuple[Path, str]],
):
    """Per class, in order: still files (a Path: loaded as load_folder loads them), then each
    still frame and each animation of its sheets as (pieces, frames on one shared canvas)."""
    pieces: list[_Piece] = []
    for src in sources:
        if isinstance(src, FileFrame) and src.ref is None:
            yield src.path
            continue
        try:
            if isinstance(src, FileFrame):
                a = read_rgba(src.path, crop=False)
                h, w = a.shape[:2]
                pieces.append(_Piece(a, (0, 0), (0, 0, w, h), src.ref, src.path))
            else:
                pixels = read_rgba(src.image, crop=False, sheet=True)
                pieces.extend(_sheet_pieces(src, pixels, notes, problems))
        except ImageLoadError as e:
            skipped.append((src.path if isinstance(src, FileFrame) else src.image, str(e)))
    # Stills are their own group; an animation's frames share one canvas.
    groups: dict[tuple[str, str] | int, list[_Piece]] = {}
    for i, p in enumerate(pieces):
        key = (p.ref.instance, p.ref.animation) if p.ref is not None else i
        groups.setdefault(key, []).append(p)
    for key, members in groups.items():
        members.sort(key=lambda p: p.ref.index if p.ref else 0)
        frames = compose(members, crop)
        if not _shape_ok(frames[0]):
            h, w = frames[0].shape[:2]
            what = f"animation {key[1]!r}" if isinstance(key, tuple) else "a frame"
            problems.add(
                f"{members[0].path}: {what} is {w}x{h} px, too small or too thin "
                "to be a sprite; skipped"
            )
            continue
        yield members, frames


def scan_arrays(
    root: str | os.PathLike, sheets: SheetOptions | None = None, limit: int = 400
) -> list[np.ndarray] | None:
    """Cropped frames (each animation's on its shared canvas) for the native-grid scan, up to
    `limit` evenly spaced; None for a folder of stills (scan its files as before)."""
    plan = plan_folder(scan_folder(root), sheets)
    if not plan.animated:
        return None
    arrays: list[np.ndarray] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader reports the problems
        problems, skipped = _Problems([]), []
        for cls in plan.folder.classes:
            for item in _class_groups(plan.sources[cls], True, [], problems, skipped):
                if isinstance(item, Path):
                    try:
                        arrays.append(read_rgba(item))
                    except ImageLoadError:
                        pass
                else:
                    arrays.extend(item[1])
    if len(arrays) > limit:
        arrays = [arrays[i] for i in np.linspace(0, len(arrays) - 1, limit).astype(int)]
    return arrays


def load_dataset(
    root: str | os.PathLike,
    options: LoadOptions | None = None,
    sheets: SheetOptions | None = None,
    use_cache: bool = True,
    log: Callable[[str], None] | None = None,
) -> LoadedDataset:
    """Load an asset folder whose classes may hold sheets, atlases and numbered frames.

    A folder of stills loads exactly as load_folder loads it. Otherwise every image carries
    its FrameRef (None for a still) in LoadedDataset.frames.
    """
    options, sheets = options or LoadOptions(), sheets or SheetOptions()
    if not MIN_SIZE <= options.size <= MAX_SIZE:
        raise DatasetError(
            f"image size {options.size} is out of range: use {MIN_SIZE} to {MAX_SIZE}"
        )
    folder = scan_folder(root)
    plan = plan_folder(folder, sheets)
    if not plan.animated and not plan.problems:
        return load_folder(root, options, use_cache)
    problems = _Problems(plan.problems)
    notes: list[str] = []
    cache = cache_dir() if use_cache else None
    images, labels, paths, refs, skipped = [], [], [], [], []
    for ci, cls in enumerate(folder.classes):
        for item in _class_groups(plan.sources[cls], options.crop, notes, problems, skipped):
            if isinstance(item, Path):  # a still file, as load_folder loads it
                try:
                    images.append(load_image_cached(item, options, cache))
                except ImageLoadError as e:
                    skipped.append((item, str(e)))
                    continue
                labels.append(ci)
                paths.append(item)
                refs.append(None)
                continue
            members, frames = item
            for index, (p, a) in enumerate(zip(members, _fit(frames, options))):
                ref = p.ref
                if ref is not None and ref.index != index:  # renumbered past skipped frames
                    ref = FrameRef(
                        ref.instance, ref.animation, index, ref.duration_ms, ref.direction
                    )
                images.append(a)
                labels.append(ci)
                paths.append(p.path)
                refs.append(ref)
    problems.emit()
    if skipped:
        names = ", ".join(
            str(p.relative_to(folder.root)) if p.is_relative_to(folder.root) else str(p)
            for p, _ in skipped[:5]
        )
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {names}{more}", stacklevel=2)
    lab = np.asarray(labels, dtype=np.int64)
    empty = [c for i, c in enumerate(folder.classes) if not (lab == i).any()]
    if empty:
        first = next((why for _, why in skipped), "") or next(iter(problems.lines), "")
        raise DatasetError(
            f"class(es) with no usable image or frame: {', '.join(empty)}"
            + (f" (first problem: {first})" if first else "")
            + "; fix or remove those files"
        )
    if log is not None:
        for line in notes[:MAX_WARNINGS]:
            log(line)
        if len(notes) > MAX_WARNINGS:
            log(f"... and {len(notes) - MAX_WARNINGS} more sheets")
        log(summary(refs))
    animated = any(r is not None for r in refs)
    return LoadedDataset(
        images=np.stack(images),
        labels=lab,
        classes=folder.classes,
        paths=paths,
        skipped=skipped,
        frames=refs if animated else None,
    )


def summary(refs: list[FrameRef | None]) -> str:
    """ "sheets: 340 frames in 25 animations (12 sheets), 40 stills"."""
    anims = {(r.instance, r.animation) for r in refs if r is not None}
    sheets = {r.instance for r in refs if r is not None}
    frames = sum(r is not None for r in refs)
    return (
        f"sheets: {frames} frames in {len(anims)} animation(s) of {len(sheets)} sheet(s), "
        f"{len(refs) - frames} still(s)"
    )


def split_groups(frames: list[FrameRef | None] | None) -> list[str | None] | None:
    """split_indices' groups: one per animation of a sheet, so its frames stay on one side."""
    if frames is None:
        return None
    return [None if r is None else f"\0{r.instance}\0{r.animation}" for r in frames]
