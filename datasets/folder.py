"""Asset folders: find the classes and images, load each image as a square RGBA array.

A folder's immediate subfolders are its classes (sorted); images are found recursively in
each. A folder of images with no subfolders is one class named after the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DatasetError, ImageLoadError
from ..plugin_api.fileio import atomic_path
from ..plugin_api.images import clear_hidden_colour, crop_to_alpha, fit_square

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
MIN_SIZE, MAX_SIZE = 16, 256
# Larger declared images are refused before decoding (a decompression bomb declares a
# huge size in a few bytes). 64 Mpx is far above any sprite or stamp artists use.
MAX_PIXELS = 64_000_000
# A side under MIN_SIDE px or an aspect ratio beyond MAX_ASPECT (a 1x1 spacer, a 10000x1
# divider line) fitted into a square sprite is a solid block or a hairline: nothing to learn.
MIN_SIDE = 2
MAX_ASPECT = 64
CACHE_VERSION = 2  # bumped when the loader's accept/refuse rules change


@dataclass(frozen=True)
class LoadOptions:
    size: int = 64
    pixel_art: bool | None = None  # None: nearest-neighbour only when the source is not larger
    crop: bool = True  # crop to the bounding box of non-transparent pixels first
    native: bool = False  # pixel art on its own grid, centred unscaled (datasets/grid.py)

    def key(self) -> str:
        native = "-n" if self.native else ""
        return f"v{CACHE_VERSION}-s{self.size}-p{self.pixel_art}-c{self.crop}{native}"


@dataclass
class AssetFolder:
    root: Path
    classes: list[str]
    files: dict[str, list[Path]]

    def all_files(self) -> list[Path]:
        return [p for c in self.classes for p in self.files[c]]


@dataclass
class LoadedDataset:
    """Images as uint8 [N, S, S, 4] straight-alpha RGBA, with integer labels into ``classes``."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    paths: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    # Per image, where it comes from in an animation (datasets/sheets.py: FrameRef), or None
    # for a still; None altogether for a folder of stills.
    frames: list | None = None

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update("\n".join(self.classes).encode())
        h.update(self.labels.astype(np.int64).tobytes())
        h.update(np.ascontiguousarray(self.images).data)  # no copy of a large memory map
        if self.frames is not None:  # the same pixels cut into other animations: another set
            h.update(repr(self.frames).encode("utf-8", "surrogateescape"))
        return h.hexdigest()[:16]

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def _images_under(folder: Path) -> list[Path]:
    found = []
    seen_dirs = set()
    # followlinks=False and an inode set: a symlink loop cannot make this run forever.
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if _visible(p) and p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir():
                found.append(p)
    return found


def _check_class_name(root: Path, name: str) -> None:
    """Class names go into checkpoints and bundles as text: they must be valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(name).decode("ascii", "backslashreplace")
        raise DatasetError(
            f"{root}: class folder name '{shown}' is not valid UTF-8; rename it "
            "(class names are stored as text in the bundle)"
        ) from None


def scan_folder(root: str | os.PathLike) -> AssetFolder:
    """Find classes and their image files. Raises DatasetError for a missing or empty folder."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(
            f"{root}: no such folder; give a folder of images, one subfolder per class"
        )
    if not root.is_dir():
        raise DatasetError(
            f"{root}: is a file, not a folder; give a folder with one subfolder per class"
        )
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    if not subdirs:
        name = root.resolve().name or "default"
        _check_class_name(root, name)
        files = {name: _images_under(root)}
    else:
        for d in subdirs:
            _check_class_name(root, d.name)
        files = {d.name: _images_under(d) for d in subdirs}
        loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        if loose:
            warnings.warn(
                f"{root}: {len(loose)} image(s) directly in the top folder are ignored; "
                "move them into a class subfolder",
                stacklevel=2,
            )
    empty = [c for c, fs in files.items() if not fs]
    if len(empty) == len(files):
        raise DatasetError(
            f"{root}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}); "
            "put images in one subfolder per class"
        )
    if empty:
        raise DatasetError(
            f"{root}: class folder(s) with no images: {', '.join(empty)}; add images or remove them"
        )
    return AssetFolder(root=root, classes=list(files), files=files)


def _to_rgba(im: Image.Image) -> Image.Image:
    """Any Pillow mode to RGBA, keeping palette/colour-key transparency and 16-bit range."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        # 16-bit greyscale PNGs load as I/I;16: scale down, don't clip.
        if a.max(initial=0) > 255:
            a = a / 257.0
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    if im.mode == "RGBA":
        return im
    if im.mode in ("P", "PA", "L", "LA", "RGB", "1") or "transparency" in im.info:
        return im.convert("RGBA")
    # CMYK, YCbCr, LAB, HSV...: through RGB.
    return im.convert("RGB").convert("RGBA")


def load_image(path: str | os.PathLike, options: LoadOptions = LoadOptions()) -> np.ndarray:
    """Decode one image into uint8 [size, size, 4] straight-alpha RGBA, centred on transparency.

    Raises ImageLoadError (with the reason) for anything that is not a readable image.
    """
    a = read_rgba(path, options.crop)
    if options.native:
        from .grid import place_native

        return place_native(a, options.size)
    return fit_square(a, options.size, options.pixel_art)


def read_rgba(path: str | os.PathLike, crop: bool = True, *, sheet: bool = False) -> np.ndarray:
    """Decode one image as straight-alpha RGBA [h, w, 4] (hidden colour zeroed), cropped to its
    opaque area when crop. Raises ImageLoadError for anything that is not a usable image.
    sheet: a sprite sheet, cut into frames later: any aspect ratio (a strip) is fine."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{path}: empty file (0 bytes); re-save the image or remove it")
        with warnings.catch_warnings():
            # Pillow warns at 89 Mpx; our own, lower limit below refuses with one clear line.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageLoadError(
                    f"{path}: declared size {w}x{h} is too large (limit {MAX_PIXELS} "
                    "pixels; possibly a decompression bomb); scale it down or remove it"
                )
            if not sheet:
                _check_shape(path, w, h, "image")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated: the first frame stands for the file
            im.load()
            im = ImageOps.exif_transpose(im)
            im = _to_rgba(im)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        kind = _signature(path)
        if (
            kind
        ):  # the right magic bytes, but Pillow could not parse the header (bad CRC, cut short)
            raise ImageLoadError(
                f"{path}: damaged or unreadable ({kind} header cannot be decoded); "
                "re-save it or remove it"
            ) from None
        raise ImageLoadError(
            f"{path}: not an image file (no known image format inside); "
            "re-save it as PNG or remove it"
        ) from None
    except Image.DecompressionBombError:
        # Pillow refuses a huge declared size in Image.open, before our own check can.
        raise ImageLoadError(
            f"{path}: declared size is too large (limit {MAX_PIXELS} pixels; "
            "possibly a decompression bomb); scale it down or remove it"
        ) from None
    except PermissionError:
        raise ImageLoadError(
            f"{path}: permission denied; make the file readable (chmod +r) or remove it"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        detail = (
            e.strerror if isinstance(e, OSError) and e.strerror else _one_line(e)
        )  # strerror: no repeated path
        raise ImageLoadError(
            f"{path}: damaged or unreadable ({detail}); re-save it or remove it"
        ) from None
    except (
        Exception
    ) as e:  # Pillow's parsers meet malformed files with struct.error, IndexError, ...
        raise ImageLoadError(
            f"{path}: damaged or unreadable ({e.__class__.__name__}: {_one_line(e)}); "
            "re-save it or remove it"
        ) from None

    a = clear_hidden_colour(np.asarray(im))
    if crop:
        a = crop_to_alpha(a)
        if a is None:
            raise ImageLoadError(f"{path}: fully transparent, nothing to learn from")
        _check_shape(path, a.shape[1], a.shape[0], "opaque area")
    return a


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or e.__class__.__name__


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
)


def _signature(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def _check_shape(path: Path, w: int, h: int, what: str) -> None:
    if min(w, h) < MIN_SIDE or max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageLoadError(
            f"{path}: {what} is {w}x{h} px, too small or too thin to be a sprite (need at least "
            f"{MIN_SIDE} px a side and an aspect ratio up to {MAX_ASPECT}:1); crop or remove it"
        )


def cache_dir() -> Path:
    env = os.environ.get("ASSETVAE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "assetvae" / "images"


def _cache_file(path: Path, options: LoadOptions, root: Path) -> Path:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{options.key()}"
    return root / (hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".npy")


def load_image_cached(path: Path, options: LoadOptions, cache: Path | None) -> np.ndarray:
    """load_image through an on-disk cache keyed by path, file size, mtime and options."""
    if cache is None:
        return load_image(path, options)
    try:
        cf = _cache_file(path, options, cache)
    except OSError as e:
        raise ImageLoadError(f"{path}: cannot read ({e.strerror}); fix or remove it") from None
    if cf.exists():
        try:
            a = np.load(cf, allow_pickle=False)
            if a.shape == (options.size, options.size, 4) and a.dtype == np.uint8:
                return a
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    a = load_image(path, options)
    try:
        with atomic_path(cf) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, a, allow_pickle=False)
    except OSError:
        pass  # a read-only cache only costs speed
    return a


def load_folder(
    root: str | os.PathLike,
    options: LoadOptions = LoadOptions(),
    use_cache: bool = True,
    progress: bool | None = None,
) -> LoadedDataset:
    """Scan and load a whole asset folder. Unreadable files are skipped with one warning.

    With use_cache the images are a read-only memory map of the folder's cache file
    (datasets/cache.py: built once, decoded by worker processes, progress shown on a terminal
    or when progress is True), so a large folder need not fit in memory.
    """
    if not MIN_SIZE <= options.size <= MAX_SIZE:
        raise DatasetError(
            f"image size {options.size} is out of range: use {MIN_SIZE} to {MAX_SIZE}"
        )
    folder = scan_folder(root)
    files = folder.all_files()
    file_labels = [ci for ci, c in enumerate(folder.classes) for _ in folder.files[c]]
    if use_cache:
        from .cache import map_folder

        mapped = map_folder(folder.root, files, options, cache_dir(), progress)
        images, ok, failed = mapped.images, mapped.ok, mapped.skipped
    else:
        decoded = []
        for i, p in enumerate(files):
            try:
                decoded.append((i, load_image(p, options)))
            except ImageLoadError as e:
                decoded.append((i, str(e)))
        ok = [i for i, a in decoded if not isinstance(a, str)]
        failed = [(i, a) for i, a in decoded if isinstance(a, str)]
        images = np.stack([a for _, a in decoded if not isinstance(a, str)]) if ok else None
    labels = [file_labels[i] for i in ok]
    paths = [files[i] for i in ok]
    skipped = [(files[i], why) for i, why in failed]
    if skipped:
        names = ", ".join(str(p.relative_to(folder.root)) for p, _ in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {names}{more}", stacklevel=2)
    lab = np.asarray(labels, dtype=np.int64)
    empty = [c for i, c in enumerate(folder.classes) if not (lab == i).any()]
    if empty:
        # Name the first reason, so the one line says what is wrong with the files.
        first = next((why for p, why in skipped if p in folder.files[empty[0]]), "")
        raise DatasetError(
            f"class(es) with no readable image: {', '.join(empty)}"
            + (f" (first: {first})" if first else "")
            + "; fix or remove those files"
        )
    return LoadedDataset(
        images=images, labels=lab, classes=folder.classes, paths=paths, skipped=skipped
    )


_FRAME_SUFFIX = re.compile(r"[\W_]*\d+$")


def split_indices(
    labels: np.ndarray,
    paths: list[Path],
    val_fraction: float,
    seed: int,
    groups: list[str | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation split that keeps animation frames together.

    Files whose names differ only in a trailing number (walk_01, walk_02) form one group
    and land on the same side, unless that would make the whole class one group.
    groups: per image, a group name that replaces that rule (the frames of one animation
    of a sprite sheet share one), or None to keep it for that image.
    Classes of 4 or more images give at least one validation image; smaller ones give none.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        found: dict[str, list[int]] = {}
        for i in idx:
            name = groups[i] if groups is not None else None
            if name is None:
                name = _FRAME_SUFFIX.sub("", paths[i].stem) or paths[i].stem
            found.setdefault(name, []).append(int(i))
        if len(found) < 2:
            found = {str(i): [int(i)] for i in idx}
        keys = sorted(found)
        rng.shuffle(keys)
        n_val_target = (
            max(1, round(len(idx) * val_fraction)) if len(idx) >= 4 and val_fraction > 0 else 0
        )
        taken = 0
        for k in keys:
            g = found[k]
            # A group may overshoot the target by half its size at most (rounding), never more.
            if (
                taken < n_val_target
                and taken + len(g) <= n_val_target + len(g) // 2
                and taken + len(g) < len(idx)
            ):
                val.extend(g)
                taken += len(g)
            else:
                train.extend(g)
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))
