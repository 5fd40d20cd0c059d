"""A folder's decoded sprites in one memory-mapped file, built once and reused.

100,000 sprites at 64 px are 1.6 GB decoded (6.4 GB at 128 px). ``load_folder`` therefore keeps
them in one raw file and hands the trainer a read-only memory map of it: batches are read from
the map, the operating system keeps in memory what fits (in its page cache, shared by every
process that maps the file: torchrun's processes hold one copy between them), and no process
needs the whole folder in its own memory. ::

    <cache dir>/folders/<key>/index.json        per file: size, mtime_ns, and row or error
    <cache dir>/folders/<key>/images-<id>.u8    uint8 [rows, S, S, 4], rows in file order

``key`` hashes the folder's resolved path and the load options. Building decodes the files in
worker processes (in order) and writes row by row, with a progress bar. A later load stats
every file: when all match the index the map is opened as it is; otherwise the rows of
unchanged files are copied from the old map and only new or changed files are decoded. Each
build writes a new ``images-<id>.u8`` and then replaces ``index.json`` (which names it)
atomically, so a reader never pairs an index with another build's rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..errors import ImageLoadError
from ..plugin_api.fileio import atomic_write_text
from . import folder as _folder

FORMAT = 1
POOL_MIN_FILES = 2000  # below this, worker processes cost more to start than they save
CHUNK = 256  # files per worker task, and rows per copy


class Rows:
    """Rows ``idx`` of an array (a memory map) without copying them: indexing reads only the
    rows asked for. ``len``, slices, integer arrays and ``np.asarray`` work as on the subset."""

    def __init__(self, array: np.ndarray, idx: np.ndarray):
        self.array, self.idx = array, np.asarray(idx, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.idx)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.idx), *self.array.shape[1:])

    def __getitem__(self, i) -> np.ndarray:
        return np.asarray(self.array[self.idx[i]])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self.array[self.idx]
        return a.astype(dtype) if dtype is not None else np.asarray(a)


@dataclass
class Mapped:
    """The loaded files' sprites: ``images[i]`` is file ``ok[i]``; ``skipped`` says why not."""

    images: np.ndarray  # read-only np.memmap, uint8 [len(ok), S, S, 4]
    ok: list[int]  # indices into the file list, in order
    skipped: list[tuple[int, str]]  # (index into the file list, reason)
    decoded: int  # files decoded by this call (0: the map was reused as it was)


def _quiet(progress: bool | None, work: int) -> bool:
    """tqdm's disable: show a bar when asked, or (None) for large jobs on a terminal."""
    if progress is not None:
        return not progress
    return work < POOL_MIN_FILES or not sys.stderr.isatty()


def _folder_key(root: Path, options: _folder.LoadOptions) -> str:
    text = f"{FORMAT}|{root.resolve()}|{options.key()}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def _stat(path: Path) -> tuple[int, int] | str:
    try:
        st = path.stat()
    except OSError as e:
        return f"{path}: cannot read ({e.strerror}); fix or remove it"
    return st.st_size, st.st_mtime_ns


def _decode(job: tuple[str, _folder.LoadOptions]) -> np.ndarray | str:
    """One file's sprite, or the reason it cannot be used (worker processes call this)."""
    path, options = job
    try:
        return _folder.load_image(Path(path), options)
    except ImageLoadError as e:
        return str(e)


def _decoded(
    paths: list[Path], options: _folder.LoadOptions, workers: int | None
) -> Iterator[np.ndarray | str]:
    """Decoded sprites (or reasons) in order, from worker processes for large folders."""
    jobs = [(str(p), options) for p in paths]
    if workers is None:
        affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere all cores
        workers = len(affinity(0)) if affinity else os.cpu_count() or 1
    if workers <= 1 or len(jobs) < POOL_MIN_FILES:
        yield from map(_decode, jobs)
        return
    # fork on Linux (as torch's DataLoader): workers start at once and never re-import the
    # caller's __main__, so a script without an `if __name__ == "__main__":` guard works; they
    # only decode with Pillow, never touching the torch state fork copies. Elsewhere spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool:
        yield from pool.map(_decode, jobs, chunksize=CHUNK)


def _read_index(where: Path, shape: tuple[int, ...]) -> tuple[dict, np.ndarray | None]:
    """The last build's index and map, or ({}, None) when there is none that fits."""
    try:
        index = json.loads((where / "index.json").read_text())
        if index.get("format") != FORMAT or tuple(index["shape"]) != shape:
            return {}, None
        rows = index["rows"]
        images = (
            np.memmap(where / index["map"], np.uint8, "r", shape=(rows, *shape))
            if rows
            else np.zeros((0, *shape), np.uint8)
        )
        return index, images
    except (OSError, ValueError, KeyError, TypeError):
        return {}, None


def map_folder(
    root: Path,
    paths: Sequence[Path],
    options: _folder.LoadOptions,
    cache: Path,
    progress: bool | None = None,
    workers: int | None = None,
) -> Mapped:
    """Decode the files (or reuse what the cache holds of them) into a memory-mapped array.

    progress: a progress bar on stderr (None: when stderr is a terminal and there is work).
    workers: decoding processes (None: one per available core; large folders only).
    """
    from tqdm import tqdm

    where = cache / "folders" / _folder_key(root, options)
    shape = (options.size, options.size, 4)
    index, old = _read_index(where, shape)
    known = index.get("files", {})
    names = [os.path.abspath(p) for p in paths]  # the same entries from any working directory
    stats = [
        _stat(p)
        for p in tqdm(
            paths,
            desc="checking files",
            unit=" files",
            leave=False,
            disable=_quiet(progress, len(paths)),
        )
    ]

    def still(i: int) -> dict | None:  # the cache's record of file i when the file is unchanged
        rec = known.get(names[i])
        if rec is None or isinstance(stats[i], str):
            return None
        return rec if [rec["size"], rec["mtime_ns"]] == list(stats[i]) else None

    records = [still(i) for i in range(len(paths))]
    if old is not None and all(r is not None for r in records) and list(known) == names:
        ok = [i for i, r in enumerate(records) if "row" in r]
        skipped = [(i, r["error"]) for i, r in enumerate(records) if "error" in r]
        return Mapped(old, ok, skipped, 0)

    todo = [i for i, r in enumerate(records) if r is None and not isinstance(stats[i], str)]
    where.mkdir(parents=True, exist_ok=True)
    map_name = f"images-{secrets.token_hex(6)}.u8"
    files: dict[str, dict] = {}
    ok, skipped = [], []
    fresh = _decoded([paths[i] for i in todo], options, workers)
    bar = tqdm(
        total=len(todo),
        desc=f"caching {root.name}",
        unit=" images",
        leave=False,
        disable=_quiet(progress, len(todo)),
    )
    with open(where / map_name, "w+b") as out:
        for i in range(len(paths)):
            rec, stat = records[i], stats[i]
            if isinstance(stat, str):
                skipped.append((i, stat))
                continue
            if rec is None:
                got = next(fresh)
                bar.update(1)
            else:
                got = rec["error"] if "error" in rec else np.asarray(old[rec["row"]])
            entry = {"size": stat[0], "mtime_ns": stat[1]}
            if isinstance(got, str):
                skipped.append((i, got))
                entry["error"] = got
            else:
                entry["row"] = len(ok)
                ok.append(i)
                out.write(np.ascontiguousarray(got, np.uint8).tobytes())
            files[names[i]] = entry
        out.flush()
        os.fsync(out.fileno())
        # Mapped through this descriptor: valid even if a concurrent build of the same folder
        # has since removed the file as stale (the next load then rebuilds).
        images = (
            np.memmap(out, np.uint8, "r", shape=(len(ok), *shape))
            if ok
            else np.zeros((0, *shape), np.uint8)
        )
    bar.close()
    # The index names the new map only once the map is whole; files keep the folder's order.
    atomic_write_text(
        where / "index.json",
        json.dumps(
            {
                "format": FORMAT,
                "shape": list(shape),
                "rows": len(ok),
                "map": map_name,
                "files": files,
            }
        )
        + "\n",
    )
    for stale in where.glob("images-*.u8"):  # open maps of other readers stay valid (POSIX)
        if stale.name != map_name:
            stale.unlink(missing_ok=True)
    return Mapped(images, ok, skipped, len(todo))
