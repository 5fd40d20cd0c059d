"""The Generator: what a game engine calls to turn (class, seed, key) into a sprite.

Every variant is a pure function of (bundle, seed, key, class, spread, truncation): the
latent noise comes from the portable seed stream (rng.py), the latent is computed by fixed-
order numpy arithmetic (sampling.py), and the ONNX graph decodes each row independently.
"""

from __future__ import annotations

import difflib
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import rng
from .bundle import _read_bytes, check_graph, manifest_of, open_encoder, open_session
from .errors import SamplingError
from .images import prepare_sprite
from .manifest import Manifest
from .sampling import blend_gaussians, check_spread, class_latents, latent_samples

MAX_VARIANTS = 1_000_000  # per call; a game asking for more is almost surely a bug
DECODE_CHUNK = 256  # rows per graph run: bounds memory, keeps per-row results batch-independent
ASYNC_CHUNK = 64  # keys per progress step of variants_async

Key = rng.Key


class Generator:
    """A loaded bundle. Thread-safe: any number of threads may call it at once."""

    def __init__(self, session, manifest: Manifest, path: Path):
        self._session = session
        self.manifest = manifest
        self.path = path
        self.provider: str = session.get_providers()[0]
        self._index = {c.name: i for i, c in enumerate(manifest.classes)}
        self._executor: ThreadPoolExecutor | None = None  # made on first variants_async
        self._lazy_lock = threading.Lock()  # guards the lazily made executor and encoder
        self._session_args = {"device": "cpu", "threads": None}
        self._encoder = None  # opened on first encode(), if the bundle has one

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto", threads: int | None = None) -> Generator:
        """Open a bundle. device: 'auto' (CUDA if available, else CPU), 'cpu' or 'cuda'.

        Raises BundleError for a file that is not an assetvae bundle, is from a newer major
        format version, or whose manifest disagrees with its graph.
        """
        path = Path(path)
        data = _read_bytes(path)
        session = open_session(data, path, device=device, threads=threads)
        manifest = manifest_of(session, data, path)
        check_graph(session, manifest, path)
        gen = cls(session, manifest, path)
        gen._session_args = {"device": device, "threads": threads}
        return gen

    # --- what the bundle holds -----------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return [c.name for c in self.manifest.classes]

    @property
    def image_size(self) -> int:
        return self.manifest.image_size

    @property
    def latent_dim(self) -> int:
        return self.manifest.latent_dim

    def __repr__(self) -> str:
        return (f"Generator({str(self.path)!r}, {len(self.classes)} classes, {self.image_size}px, "
                f"latent {self.latent_dim}, {self.provider})")

    def _class(self, name: str):
        try:
            return self.manifest.classes[self._index[name]]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), self.classes, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else \
                f"classes are: {', '.join(self.classes[:20])}"
            raise SamplingError(f"unknown class {name!r}; {hint}") from None

    # --- latents -------------------------------------------------------------------------
    def latents(self, seed: int, keys: Sequence[Key], cls: str, spread: float = 1.0,
                truncation: float | None = None) -> np.ndarray:
        """The latent vectors z [len(keys), latent] of variants `keys` of class `cls`."""
        c = self._class(cls)
        spread = check_spread(spread)
        keys = _check_keys(keys)
        noise = _normals(seed, keys, self.latent_dim, truncation)
        return class_latents(c, seed, keys, noise, spread)

    def blend_latents(self, seed: int, keys: Sequence[Key], cls_a: str, cls_b: str, t: float,
                      spread: float = 1.0, truncation: float | None = None) -> np.ndarray:
        a, b = self._class(cls_a), self._class(cls_b)
        centroid, chol = blend_gaussians(a.anchor(), a.chol, b.anchor(), b.chol, t)
        keys = _check_keys(keys)
        noise = _normals(seed, keys, self.latent_dim, truncation)
        return latent_samples(centroid, chol, noise, check_spread(spread))

    # --- images --------------------------------------------------------------------------
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode latents float32 [N, latent] into uint8 [N, H, W, 4] straight-alpha RGBA."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise SamplingError(f"z must have shape [N, {self.latent_dim}], got {list(z.shape)}")
        if not np.isfinite(z).all():
            raise SamplingError("z holds NaN or infinite values")
        s = self.image_size
        out = np.empty((len(z), s, s, 4), np.uint8)
        for i in range(0, len(z), DECODE_CHUNK):
            img = self._session.run(["image"], {"z": np.ascontiguousarray(z[i : i + DECODE_CHUNK])})[0]
            if self.manifest.output == "float32_nchw":
                img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
            out[i : i + DECODE_CHUNK] = img
        return out

    def variants(self, seed: int, keys: Sequence[Key], cls: str, spread: float = 1.0,
                 truncation: float | None = None) -> np.ndarray:
        """One prop per key: uint8 [len(keys), H, W, 4]. Same (seed, key) -> same pixels, always."""
        return self.decode(self.latents(seed, keys, cls, spread, truncation))

    def sample(self, cls: str, n: int, spread: float = 1.0, seed: int = 0,
               truncation: float | None = None) -> np.ndarray:
        """n variants of cls: the variants with keys 0..n-1 under this seed."""
        return self.variants(seed, range(_check_n(n)), cls, spread, truncation)

    def blend(self, cls_a: str, cls_b: str, t: float, n: int = 1, spread: float = 1.0, seed: int = 0,
              keys: Sequence[Key] | None = None, truncation: float | None = None) -> np.ndarray:
        """Hybrids of two classes: t=0 is cls_a, t=1 is cls_b; keys default to 0..n-1."""
        keys = range(_check_n(n)) if keys is None else keys
        return self.decode(self.blend_latents(seed, keys, cls_a, cls_b, t, spread, truncation))

    # --- non-blocking, for load screens ---------------------------------------------------
    def variants_async(self, seed: int, keys: Sequence[Key], cls: str, spread: float = 1.0,
                       truncation: float | None = None, *,
                       progress: Callable[[int, int], object] | None = None,
                       chunk: int = ASYNC_CHUNK, executor: Executor | None = None) -> Future:
        """variants() in a background thread: returns a concurrent.futures.Future at once.

        ``future.result()`` is exactly ``variants(seed, keys, cls, spread, truncation)``.
        Work runs in chunks of ``chunk`` keys; after each, ``progress(done, total)`` is called
        **from the worker thread** (keep it short; in pygame, store the numbers and draw
        them from the main loop). An exception in ``progress`` fails the future. The class,
        spread, truncation, seed and keys are checked here, so a bad request raises now, not
        in ``result()``. Runs on this Generator's own single background thread (jobs queue in
        order), or on ``executor`` if given.
        """
        self._class(cls)
        spread = check_spread(spread)
        keys = _check_keys(keys)
        _normals(seed, [], self.latent_dim, truncation)  # seed and truncation
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise SamplingError(f"chunk={chunk!r} must be a positive int")
        pool = executor if executor is not None else self._background()
        return pool.submit(self._variants_chunked, seed, keys, cls, spread, truncation,
                           progress, int(chunk))

    def _variants_chunked(self, seed, keys, cls, spread, truncation, progress, chunk) -> np.ndarray:
        s = self.image_size
        out = np.empty((len(keys), s, s, 4), np.uint8)
        for i in range(0, len(keys), chunk):
            part = keys[i : i + chunk]
            out[i : i + len(part)] = self.variants(seed, part, cls, spread, truncation)
            if progress is not None:
                progress(i + len(part), len(keys))
        return out

    def _background(self) -> ThreadPoolExecutor:
        with self._lazy_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assetvae")
            return self._executor

    # --- a given sprite (needs the encoder: assetvae export --encoder) -------------------
    def _encoder_session(self):
        with self._lazy_lock:
            if self._encoder is None:
                self._encoder = open_encoder(self.path, self.manifest, **self._session_args)
            return self._encoder

    def encode(self, images) -> np.ndarray:
        """Posterior means float32 [N, latent] of sprites: PIL images or uint8 [H, W, 4] arrays
        of any size (cropped, fitted and centred as the trainer's images were)."""
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(images)
        try:
            batch = np.stack([prepare_sprite(im, self.image_size) for im in images])
        except ValueError as e:
            raise SamplingError(f"cannot use that sprite: {e}") from None
        return self._encoder_session().run(["mean"], {"image": batch})[0]

    def reconstruct(self, images) -> np.ndarray:
        """Encode and decode sprites: the model's clean version of each (denoising runs restore)."""
        return self.decode(self.encode(images))

    def nearest_class(self, z: np.ndarray) -> str:
        """The class whose Gaussian is nearest (Mahalanobis distance) to latent z [latent]."""
        dist = [float(np.sum(np.linalg.solve(c.chol, np.asarray(z, np.float64) - c.centroid) ** 2))
                for c in self.manifest.classes]
        return self.classes[int(np.argmin(dist))]

    def variants_like(self, image, n: int, spread: float = 1.0, seed: int = 0,
                      keys: Sequence[Key] | None = None, truncation: float | None = None) -> np.ndarray:
        """Variants of one given sprite: centred on its latent, varied as its nearest class varies."""
        z0 = self.encode([image])[0]
        c = self._class(self.nearest_class(z0))
        keys = _check_keys(range(_check_n(n)) if keys is None else keys)
        noise = _normals(seed, keys, self.latent_dim, truncation)
        return self.decode(latent_samples(z0, c.chol, noise, check_spread(spread)))

    def prototype(self, cls: str) -> np.ndarray:
        """The class prototype decoded (what spread 0 gives): uint8 [1, H, W, 4]."""
        return self.decode(self._class(cls).anchor()[None].astype(np.float32))


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_VARIANTS:
        raise SamplingError(f"n={n!r} is out of range: ask for 0 to {MAX_VARIANTS:,} variants per call")
    return int(n)


def _check_keys(keys: Sequence[Key]) -> list[Key]:
    if isinstance(keys, (str, bytes)):  # a lone str would silently become one key per character
        raise SamplingError(f"keys must be a list of keys, not a single {type(keys).__name__}; "
                            f"write [{keys!r}]")
    n = len(keys) if hasattr(keys, "__len__") else None
    if n is not None and n > MAX_VARIANTS:  # refused before range(10**9) is ever materialised
        raise SamplingError(f"{n:,} keys in one call; split into calls of at most {MAX_VARIANTS:,}")
    try:
        keys = list(itertools.islice(keys, MAX_VARIANTS + 1))
    except TypeError:
        raise SamplingError(f"keys must be a sequence of ints and strs, got {type(keys).__name__}") from None
    if len(keys) > MAX_VARIANTS:
        raise SamplingError(f"more than {MAX_VARIANTS:,} keys in one call; split them into smaller calls")
    return keys


def _normals(seed: int, keys: list[Key], dim: int, truncation: float | None) -> np.ndarray:
    try:
        return rng.normals_batch(seed, keys, dim, truncation)
    except UnicodeEncodeError as e:  # a str key holding a lone surrogate (e.g. from a mis-decoded file name)
        raise SamplingError(f"key {e.object!r} is not valid Unicode text (lone surrogate at position "
                            f"{e.start}); string keys must be encodable as UTF-8") from None
    except (ValueError, TypeError, OverflowError) as e:
        raise SamplingError(str(e)) from None
