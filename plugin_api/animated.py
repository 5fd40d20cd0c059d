"""Animated variants as files: previews to look at and atlases that engines play.

- :func:`write_animation_preview`: an animated PNG (APNG) and a GIF of a labelled sheet of
  variants playing an animation, and a PNG strip of their frames (one row per variant);
- :func:`bake_animations`: variants' frames packed into atlas pages (PNG) with TexturePacker
  "JSON (Hash)" data as ``assetvae bake`` writes it, plus each variant's animation twice over:
  Aseprite's ``meta.frameTags`` (``{name, from, to, direction}``, indices into the page's
  ``frames`` in the order listed) with a ``duration`` (ms) on every frame, and PixiJS's
  ``animations`` (tag name -> frame names in order).

A variant's frames are packed as one block (a strip, wrapped at ``max_size``), so an
animation never straddles two pages. Frames are named ``<class>/<animation>/<key>/<frame>``
(``droid/walk/0017/03``), the tag ``<class>/<animation>/<key>``. The same arguments give the
same bytes.

Imports numpy and Pillow only (and the rest of plugin_api).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .atlas import (
    DEFAULT_EXTRUDE,
    DEFAULT_MAX_SIZE,
    DEFAULT_PADDING,
    MAX_MARGIN,
    BakeResult,
    Frame,
    _check_int,
    _encode_png,
    _rect,
    _sha256,
    _stem,
    atlas_file_names,
    pack_frames,
    page_meta,
)
from .errors import AtlasError, SamplingError
from .fileio import atomic_path
from .generator import MAX_VARIANTS, Generator
from .images import labelled_grid
from .manifest import MAX_IMAGE_SIDE

__all__ = ["write_animation_preview", "bake_animations", "PreviewResult"]

MAX_PREVIEW = 64  # variants per class in a preview
_U64_MAX = (1 << 64) - 1


@dataclass
class PreviewResult:
    paths: list[Path]  # the APNG, the GIF and the frame strip
    frames: int
    durations: list[int]


def _classes_with(gen: Generator, classes: Sequence[str], anim: str) -> list[str]:
    """The classes asked for (each must have anim), or every class that has it."""
    if classes:
        for c in classes:
            gen.animation_info(c, anim)  # SamplingError for a class without it
        return list(dict.fromkeys(classes))
    found = [c for c in gen.classes if anim in gen.animations(c)]
    if not found:
        have = sorted({a for c in gen.classes for a in gen.animations(c)})
        hint = (
            f"animations in this bundle: {', '.join(have[:20])}"
            if have
            else "this bundle has no animations (it was trained on stills)"
        )
        raise SamplingError(f"no class has an animation {anim!r}; {hint}")
    return found


def write_animation_preview(
    gen: Generator,
    out: str | os.PathLike,
    anim: str,
    classes: Sequence[str] = (),
    n: int = 8,
    *,
    seed: int = 0,
    spread: float = 1.0,
    truncation: float | None = None,
    scale: int = 2,
) -> PreviewResult:
    """OUT.png (animated PNG), OUT.gif and OUT_frames.png (each variant's frames in a row)
    of n variants (keys 0..n-1) per class playing `anim`. Without classes, every class that
    has the animation. Frame times are the first class's."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PREVIEW:
        raise SamplingError(
            f"n={n!r} is out of range for an animated preview: use 1 to {MAX_PREVIEW}"
        )
    stem = _stem(out)
    names = _classes_with(gen, classes, anim)
    keys = list(range(n))
    clips = [
        (c, gen.animation(c, anim, keys, seed=seed, spread=spread, truncation=truncation))
        for c in names
    ]
    info = gen.animation_info(names[0], anim)
    durations = info["durations"]
    order = _playback(len(durations), info["direction"])
    sheets = [
        labelled_grid(
            [(c, clip[:, f % clip.shape[1]]) for c, clip in clips], scale=scale, columns=min(n, 16)
        )
        for f in order
    ]
    strip = labelled_grid(
        [(f"{c} {k}", clip[k]) for c, clip in clips for k in range(n)],
        scale=scale,
        columns=max(clip.shape[1] for _, clip in clips),
    )
    times = [durations[f] for f in order]
    apng, gif, png = (
        stem.with_suffix(".png"),
        stem.with_suffix(".gif"),
        stem.with_name(stem.name + "_frames.png"),
    )
    with contextlib.ExitStack() as stack:
        t_apng, t_gif, t_png = (stack.enter_context(atomic_path(p)) for p in (apng, gif, png))
        sheets[0].save(
            t_apng,
            format="PNG",
            save_all=True,
            append_images=sheets[1:],
            duration=times,
            loop=0,
            disposal=0,
            blend=0,
        )
        frames_p = [
            s.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=0) for s in sheets
        ]
        frames_p[0].save(
            t_gif,
            format="GIF",
            save_all=True,
            append_images=frames_p[1:],
            duration=times,
            loop=0,
            disposal=1,
        )
        strip.save(t_png, format="PNG")
    return PreviewResult([apng, gif, png], len(order), times)


def _playback(frames: int, direction: str) -> list[int]:
    """Frame indices of one loop as a player shows them (pingpong: there and back)."""
    forward = list(range(frames))
    if direction == "reverse":
        return forward[::-1]
    if direction in ("pingpong", "pingpong_reverse") and frames > 2:
        loop = forward + forward[-2:0:-1]
        return loop if direction == "pingpong" else loop[::-1]
    return forward


# --- baking --------------------------------------------------------------------------------
@dataclass
class _Clip:
    cls: str
    anim: str
    key: int
    frames: np.ndarray  # uint8 [F, S, S, 4]
    durations: list[int]
    direction: str
    cols: int  # frames per row of its block


def _block(clip: _Clip, padding: int, extrude: int) -> np.ndarray:
    """The clip's frames in rows of clip.cols, each with its extruded border, `padding` apart."""
    f, s = clip.frames.shape[0], clip.frames.shape[1]
    cell = s + 2 * extrude
    rows = -(-f // clip.cols)
    cols = min(f, clip.cols)
    out = np.zeros(
        (rows * cell + (rows - 1) * padding, cols * cell + (cols - 1) * padding, 4), np.uint8
    )
    for i, im in enumerate(clip.frames):
        r, c = divmod(i, clip.cols)
        if extrude:
            im = np.pad(im, ((extrude, extrude), (extrude, extrude), (0, 0)), mode="edge")
        y, x = r * (cell + padding), c * (cell + padding)
        out[y : y + cell, x : x + cell] = im
    return out


def bake_animations(
    gen: Generator,
    out: str | os.PathLike,
    *,
    classes: Sequence[str] = (),
    animations: Sequence[str] = (),
    n: int = 16,
    first_key: int = 0,
    seed: int = 0,
    spread: float = 1.0,
    truncation: float | None = None,
    padding: int = DEFAULT_PADDING,
    extrude: int = DEFAULT_EXTRUDE,
    max_size: int = DEFAULT_MAX_SIZE,
) -> BakeResult:
    """Bake keys first_key .. first_key+n-1 of each (class, animation) as playable atlases.

    animations: names to bake (each class must have them, or, with no classes given, the
    classes that have them are baked); empty: every animation of each class. Everything is
    checked before anything is decoded; raises AtlasError or SamplingError.
    """
    _stem(out)
    n = _check_int(n, "-n", 1, MAX_VARIANTS, " variants per animation")
    first_key = _check_int(first_key, "--first-key", 0, _U64_MAX - (n - 1), f" (with -n {n})")
    padding = _check_int(padding, "--padding", 0, MAX_MARGIN, " px")
    extrude = _check_int(extrude, "--extrude", 0, MAX_MARGIN, " px")
    max_size = _check_int(max_size, "--max-size", 1, MAX_IMAGE_SIDE, " px")
    jobs: list[tuple[str, str]] = []
    if animations:
        for a in dict.fromkeys(animations):
            jobs += [(c, a) for c in _classes_with(gen, classes, a)]
    else:
        names = list(dict.fromkeys(classes)) or gen.classes
        jobs = [(c, a) for c in names for a in gen.animations(c)]
        if not jobs:
            raise AtlasError(
                "nothing to bake: no animations in "
                + (", ".join(names) if classes else "this bundle")
                + "; bake stills without --animation"
            )
    request = {"seed": seed, "spread": spread, "truncation": truncation}
    for c, a in jobs:  # no keys: checks seed, spread and truncation before any decoding
        gen.animation_latents(c, a, [], **request)
    size = gen.image_size
    cell = size + 2 * extrude
    if cell > max_size:
        raise AtlasError(
            f"--max-size {max_size} is smaller than one frame ({size} px"
            + (f" + 2 x {extrude} px extrude" if extrude else "")
            + "); raise it"
        )
    per_row = max(1, (max_size + padding) // (cell + padding))
    keys = range(first_key, first_key + n)
    clips: list[_Clip] = []
    for c, a in jobs:
        info = gen.animation_info(c, a)
        frames = gen.animation(c, a, keys, **request)
        for key, clip in zip(keys, frames):
            clips.append(
                _Clip(
                    c, a, key, clip, info["durations"], info["direction"], min(per_row, len(clip))
                )
            )
    blocks = []
    for k, clip in enumerate(clips):
        image = _block(clip, padding, extrude)
        if image.shape[0] > max_size:
            raise AtlasError(
                f"--max-size {max_size} cannot hold one {clip.frames.shape[0]}-frame "
                "animation; raise it"
            )
        h, w = image.shape[:2]
        blocks.append(Frame(f"{k}", clip.cls, clip.key, image, None, (0, 0, w, h)))
    pages = pack_frames(blocks, padding, 0, max_size, False)
    settings = {
        "seed": str(int(seed)),
        "spread": float(spread),
        "truncation": truncation,
        "first_key": str(first_key),
        "n": n,
        "padding": padding,
        "extrude": extrude,
        "max_size": max_size,
        "image_size": size,
        "rng": gen.manifest.rng,
        "bundle": gen.path.name,
        "bundle_sha256": _sha256(gen.path),
    }
    stem = _stem(out)
    names = atlas_file_names(stem.name, len(pages))
    files: dict[str, bytes] = {}
    pngs: dict[str, bytes] = {}
    for page, (json_name, png_name) in zip(pages, names):
        doc = _page_json(
            page,
            [clips[int(b.name)] for b in page.frames],
            settings,
            png_name,
            [j for j, _ in names if j != json_name],
            len(pages),
            padding,
            extrude,
        )
        files[json_name] = (
            json.dumps(doc, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        ).encode("utf-8")
        pngs[png_name] = _encode_png(page.pixels)
    files.update(pngs)
    paths = [stem.with_name(name) for name in files]
    with contextlib.ExitStack() as stack:  # all renamed into place together, as write_atlas does
        temps = [stack.enter_context(atomic_path(p)) for p in paths]
        for tmp, data in zip(temps, files.values()):
            tmp.write_bytes(data)
    return BakeResult(
        paths, [(p.width, p.height) for p in pages], sum(c.frames.shape[0] for c in clips)
    )


def _page_json(
    page,
    clips: list[_Clip],
    settings: dict[str, Any],
    png_name: str,
    others: list[str],
    n_pages: int,
    padding: int,
    extrude: int,
) -> dict[str, Any]:
    frames: dict[str, Any] = {}
    tags: dict[str, _Clip] = {}
    size = settings["image_size"]
    cell = size + 2 * extrude
    for block, clip in zip(page.frames, clips):
        tag = f"{clip.cls}/{clip.anim}/{clip.key:04d}"
        tags[tag] = clip
        width = len(str(clip.frames.shape[0] - 1))
        for i in range(clip.frames.shape[0]):
            r, c = divmod(i, clip.cols)
            x = block.x + c * (cell + padding) + extrude
            y = block.y + r * (cell + padding) + extrude
            extra: dict[str, Any] = {
                "class": clip.cls,
                "animation": clip.anim,
                "seed": settings["seed"],
                "key": str(clip.key),
                "frame": i,
                "spread": settings["spread"],
            }
            if settings["truncation"] is not None:
                extra["truncation"] = settings["truncation"]
            frames[f"{tag}/{i:0{width}d}"] = {
                "frame": _rect(x, y, size, size),
                "rotated": False,
                "trimmed": False,
                "spriteSourceSize": _rect(0, 0, size, size),
                "sourceSize": {"w": size, "h": size},
                "pivot": {"x": 0.5, "y": 0.5},
                "duration": int(clip.durations[i]),
                "assetvae": extra,
            }
    order = sorted(frames)  # the order json.dumps(sort_keys=True) lists them in
    index = {name: i for i, name in enumerate(order)}
    frame_tags, lists = [], {}
    for tag in sorted(tags):
        names = [name for name in order if name.rsplit("/", 1)[0] == tag]
        frame_tags.append(
            {
                "name": tag,
                "from": index[names[0]],
                "to": index[names[-1]],
                "direction": tags[tag].direction,
            }
        )
        lists[tag] = names
    meta = {**page_meta(png_name, page, settings, n_pages), "frameTags": frame_tags}
    if others:
        meta["related_multi_packs"] = others
    return {"frames": frames, "animations": lists, "meta": meta}
