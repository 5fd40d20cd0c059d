"""The Generator: what a game engine calls to turn (class, keys, seed) into sprites.

    with Generator.load("plants.avae.onnx") as gen:
        oaks = gen.variants("oak", range(200), seed=world_seed, spread=0.6)  # uint8 [200, H, W, 4]

Every method that samples takes the class (or classes) first, the variant keys second, and
``seed``, ``spread`` and ``truncation`` as keywords. Every variant is a pure function of
(bundle, seed, key, class, spread, truncation): the latent noise comes from the portable seed
stream (rng.py), the latent from the sampling rules (sampling.py), and the ONNX graph decodes
each row independently.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import rng, sampling
from .bundle import open_bundle, open_encoder
from .errors import GeneratorClosedError, SamplingError
from .layout import to_uint8_nhwc
from .manifest import ClassLatent, Manifest

if TYPE_CHECKING:  # concurrent.futures loads logging: imported when the first job is made
    from concurrent.futures import Executor, Future, ThreadPoolExecutor

MAX_VARIANTS = 1_000_000  # per call; a game asking for more is almost surely a bug
DECODE_CHUNK = 256  # rows per graph run: bounds memory, keeps per-row results batch-independent
ASYNC_CHUNK = 64  # keys per progress step of variants_async

Key = rng.Key
Keys = Iterable[Key]


class _Opened:
    """What Generator.load opened (internal: make Generators with Generator.load only)."""

    __slots__ = ("session", "manifest", "path", "device", "threads")

    def __init__(
        self, session: Any, manifest: Manifest, path: Path, device: str, threads: int | None
    ):
        self.session = session  # onnxruntime.InferenceSession of the decoder
        self.manifest, self.path, self.device, self.threads = manifest, path, device, threads


class Generator:
    """A loaded bundle. Thread-safe: any number of threads may call it at once.

    Make one with :meth:`Generator.load` (the constructor is internal). Close it with
    :meth:`close` or a ``with`` block when done: that stops its background thread and frees
    the ONNX Runtime sessions; a closed Generator raises GeneratorClosedError.

    Attributes: ``manifest`` (the bundle's :class:`Manifest`), ``path``, ``provider`` (the
    ONNX Runtime execution provider in use), and the properties ``classes``, ``image_size``,
    ``latent_dim``.
    """

    def __init__(self, opened: _Opened):
        if not isinstance(opened, _Opened):
            raise TypeError("make a Generator with Generator.load(path)")
        self._session = opened.session
        self._device, self._threads = opened.device, opened.threads  # for the encoder session
        self.manifest = opened.manifest
        self.path = opened.path
        self.provider: str = opened.session.get_providers()[0]
        self._by_name = {c.name: c for c in opened.manifest.classes}
        self._executor: ThreadPoolExecutor | None = None  # made by the first variants_async
        self._encoder = None  # opened by the first encode(), if the bundle has one
        self._lazy_lock = threading.Lock()  # guards the lazily made executor and encoder
        self._closed = False

    @classmethod
    def load(
        cls, path: str | os.PathLike, *, device: str = "auto", threads: int | None = None
    ) -> Generator:
        """Open a bundle. device: 'auto' (CUDA if available, else CPU), 'cpu' or 'cuda';
        threads: ONNX Runtime's intra-op threads (None: all cores).

        Raises BundleError for a file that is not an assetvae bundle, is from a newer major
        format version, or whose manifest disagrees with its graph; DeviceError for a device
        or thread count this machine cannot give.
        """
        path = Path(path)
        session, manifest = open_bundle(path, device=device, threads=threads)
        return cls(_Opened(session, manifest, path, device, threads))

    # --- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the background thread (a running variants_async job finishes, queued ones are
        cancelled) and drop the sessions. Jobs on your own executor must be done first.
        Closing twice is harmless."""
        with self._lazy_lock:
            if self._closed:
                return
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self._session = self._encoder = None

    def __enter__(self) -> Generator:
        self._check_open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise GeneratorClosedError(
                f"this Generator ({self.path.name}) is closed; "
                "load the bundle again to keep generating"
            )

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
        state = "closed" if self._closed else self.provider
        return (
            f"Generator({str(self.path)!r}, {len(self.classes)} classes, {self.image_size}px, "
            f"latent {self.latent_dim}, {state})"
        )

    def _class(self, name: str) -> ClassLatent:
        self._check_open()
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            import difflib

            close = difflib.get_close_matches(str(name), self.classes, n=3, cutoff=0.5)
            hint = (
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else f"classes are: {', '.join(self.classes[:20])}"
            )
            raise SamplingError(f"unknown class {name!r}; {hint}") from None

    def _noise(self, seed: int, keys: list[Key], truncation: float | None) -> np.ndarray:
        return sampling.normals(seed, keys, self.latent_dim, truncation)

    # --- latents -------------------------------------------------------------------------
    def latents(
        self,
        cls: str,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """The latent vectors z float32 [len(keys), latent] of variants ``keys`` of ``cls``.

        Checks everything before any work: with ``keys=[]`` it only validates the request.
        """
        c = self._class(cls)
        spread = sampling.check_spread(spread)
        keys = _check_keys(keys)
        return sampling.class_latents(c, seed, keys, self._noise(seed, keys, truncation), spread)

    def blend_latents(
        self,
        a: str,
        b: str,
        t: float,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """The latents of hybrids of classes a and b: t=0 is a, t=1 is b."""
        ca, cb = self._class(a), self._class(b)
        spread = sampling.check_spread(spread)
        t = sampling.check_blend(t)
        keys = _check_keys(keys)
        return sampling.blend_latents(ca, cb, t, self._noise(seed, keys, truncation), spread)

    # --- images --------------------------------------------------------------------------
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode latents float32 [N, latent] into uint8 [N, H, W, 4] straight-alpha RGBA."""
        self._check_open()
        return self._decode(z)

    def _decode(self, z: np.ndarray) -> np.ndarray:
        session = self._session  # held here: a concurrent close() cannot pull it away
        if session is None:
            self._check_open()
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise SamplingError(f"z must have shape [N, {self.latent_dim}], got {list(z.shape)}")
        if not np.isfinite(z).all():
            raise SamplingError("z holds NaN or infinite values")
        s = self.image_size
        out = np.empty((len(z), s, s, 4), np.uint8)
        for i in range(0, len(z), DECODE_CHUNK):
            part = np.ascontiguousarray(z[i : i + DECODE_CHUNK])
            raw = session.run(["image"], {"z": part})[0]
            out[i : i + DECODE_CHUNK] = to_uint8_nhwc(raw, self.manifest.output)
        return out

    def variants(
        self,
        cls: str,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """One prop per key: uint8 [len(keys), H, W, 4]. Same (seed, key) -> same pixels, always.

        cls: a class name of the bundle; keys: ints in [0, 2**64) or strs, such as
        ``range(200)`` or ``["forest/oak/17"]``; seed: the world seed, an int in [0, 2**64);
        spread: 0 is the class prototype, 1 the class's own variety, up to 10; truncation:
        None, or redraw normal draws beyond this magnitude (>= 0.05).
        """
        return self.decode(self.latents(cls, keys, seed=seed, spread=spread, truncation=truncation))

    def sample(
        self,
        cls: str,
        n: int,
        *,
        seed: int = 0,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """n variants of cls: the variants with keys 0..n-1 under this seed."""
        return self.variants(
            cls, range(_check_n(n)), seed=seed, spread=spread, truncation=truncation
        )

    def blend(
        self,
        a: str,
        b: str,
        t: float,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """Hybrids of two classes, one per key: t=0 is class a, t=1 is class b."""
        return self.decode(
            self.blend_latents(a, b, t, keys, seed=seed, spread=spread, truncation=truncation)
        )

    def prototype(self, cls: str) -> np.ndarray:
        """The class prototype decoded (what spread 0 gives): uint8 [1, H, W, 4]."""
        return self.decode(self._class(cls).anchor()[None].astype(np.float32))

    # --- animations (bundles trained on sprite sheets) -----------------------------------
    def animations(self, cls: str) -> list[str]:
        """The names of class cls's animations (empty for a class trained on stills)."""
        return [a.name for a in self._class(cls).animations]

    def animation_latents(
        self,
        cls: str,
        anim: str,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """The latents float32 [len(keys), frames, latent] of animated variants ``keys``."""
        c = self._class(cls)
        a = sampling.find_animation(c, anim)
        spread = sampling.check_spread(spread)
        keys = _check_keys(keys)
        if len(keys) * a.frames > MAX_VARIANTS:
            raise SamplingError(
                f"{len(keys):,} variants of {a.frames} frames is more than "
                f"{MAX_VARIANTS:,} sprites in one call; ask for fewer keys"
            )
        return sampling.animation_latents(
            c, a, seed, keys, self._noise(seed, keys, truncation), spread
        )

    def animation(
        self,
        cls: str,
        anim: str,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
    ) -> np.ndarray:
        """Animated variants, one per key: uint8 [len(keys), frames, H, W, 4].

        A variant's identity comes from its (seed, key) as a still variant's does, and stays
        the same in every frame while the animation's own motion plays. The frame times and
        playback direction are in ``animation_info(cls, anim)``.
        """
        z = self.animation_latents(cls, anim, keys, seed=seed, spread=spread, truncation=truncation)
        n, f, d = z.shape
        s = self.image_size
        return self.decode(z.reshape(n * f, d)).reshape(n, f, s, s, 4)

    def animation_info(self, cls: str, anim: str) -> dict:
        """{"frames", "durations" (ms per frame), "direction", "sources"} of an animation."""
        a = sampling.find_animation(self._class(cls), anim)
        return {
            "frames": a.frames,
            "durations": list(a.durations) or [100] * a.frames,
            "direction": a.direction,
            "sources": list(a.sources),
        }

    # --- non-blocking, for load screens ---------------------------------------------------
    def variants_async(
        self,
        cls: str,
        keys: Keys,
        *,
        seed: int,
        spread: float = 1.0,
        truncation: float | None = None,
        progress: Callable[[int, int], object] | None = None,
        chunk: int = ASYNC_CHUNK,
        executor: Executor | None = None,
    ) -> Future:
        """variants() in a background thread: returns a concurrent.futures.Future at once.

        ``future.result()`` is exactly ``variants(cls, keys, seed=..., spread=...,
        truncation=...)``. Work runs in chunks of ``chunk`` keys; after each,
        ``progress(done, total)`` is called **from the worker thread** (keep it short; in
        pygame, store the numbers and draw them from the main loop). An exception in
        ``progress`` fails the future. The class, spread, truncation, seed and keys are
        checked here, so a bad request raises now, not in ``result()``. Runs on this
        Generator's own single background thread (jobs queue in order), or on ``executor``.
        """
        c = self._class(cls)
        spread = sampling.check_spread(spread)
        keys = _check_keys(keys)
        sampling.normals(seed, keys, 0, truncation)  # checks seed, keys, truncation; draws none
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise SamplingError(f"chunk={chunk!r} must be a positive int")
        pool = executor if executor is not None else self._background()
        return pool.submit(
            self._variants_chunked, c, keys, seed, spread, truncation, progress, int(chunk)
        )

    def _variants_chunked(self, c, keys, seed, spread, truncation, progress, chunk) -> np.ndarray:
        # Checked when submitted; runs to the end even if close() is called meanwhile.
        s = self.image_size
        out = np.empty((len(keys), s, s, 4), np.uint8)
        for i in range(0, len(keys), chunk):
            part = keys[i : i + chunk]
            z = sampling.class_latents(c, seed, part, self._noise(seed, part, truncation), spread)
            out[i : i + len(part)] = self._decode(z)
            if progress is not None:
                progress(i + len(part), len(keys))
        return out

    def _background(self) -> ThreadPoolExecutor:
        from concurrent.futures import ThreadPoolExecutor

        with self._lazy_lock:
            self._check_open()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assetvae")
            return self._executor

    # --- a given sprite (needs the encoder: assetvae export --encoder) -------------------
    def _encoder_session(self):
        with self._lazy_lock:
            self._check_open()
            if self._encoder is None:
                self._encoder = open_encoder(
                    self.path, self.manifest, device=self._device, threads=self._threads
                )
            return self._encoder

    def encode(self, images) -> np.ndarray:
        """Posterior means float32 [N, latent] of sprites: PIL images or uint8 [H, W, 4] arrays
        of any size (cropped, fitted and centred as the trainer's images were)."""
        from .images import prepare_sprite  # Pillow: loaded only by the hosts that encode

        self._check_open()
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
        self._check_open()
        z = np.asarray(z, dtype=np.float64)
        if z.shape != (self.latent_dim,) or not np.isfinite(z).all():
            raise SamplingError(
                f"z must be {self.latent_dim} finite numbers, got shape {list(z.shape)}"
            )
        return self.classes[sampling.nearest_class(self.manifest.classes, z)]

    def variants_like(
        self, image, keys: Keys, *, seed: int, spread: float = 1.0, truncation: float | None = None
    ) -> np.ndarray:
        """Variants of one given sprite, one per key: centred on its latent, varied as its
        nearest class varies. Needs a bundle exported with ``assetvae export --encoder``."""
        spread = sampling.check_spread(spread)
        keys = _check_keys(keys)
        noise = self._noise(seed, keys, truncation)  # a bad request fails before encoding
        z0 = self.encode([image])[0]
        c = self._class(self.nearest_class(z0))
        return self.decode(sampling.like_latents(z0, c, noise, spread))


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_VARIANTS:
        raise SamplingError(
            f"n={n!r} is out of range: ask for 0 to {MAX_VARIANTS:,} variants per call"
        )
    return int(n)


def _check_keys(keys: Keys) -> list[Key]:
    if isinstance(keys, (str, bytes)):  # a lone str would silently become one key per character
        raise SamplingError(
            f"keys must be a list of keys, not a single {type(keys).__name__}; write [{keys!r}]"
        )
    if isinstance(keys, (bool, int, np.integer)):  # the old n argument of variants_like and blend
        raise SamplingError(
            f"keys must be a list of keys, not the int {keys!r}; "
            f"write range({keys!r}) for keys 0..{keys!r}-1"
        )
    n = len(keys) if hasattr(keys, "__len__") else None
    if n is not None and n > MAX_VARIANTS:  # refused before range(10**9) is ever materialised
        raise SamplingError(f"{n:,} keys in one call; split into calls of at most {MAX_VARIANTS:,}")
    try:
        keys = list(itertools.islice(keys, MAX_VARIANTS + 1))
    except TypeError:
        raise SamplingError(
            f"keys must be a sequence of ints and strs, got {type(keys).__name__}"
        ) from None
    if len(keys) > MAX_VARIANTS:
        raise SamplingError(
            f"more than {MAX_VARIANTS:,} keys in one call; split them into smaller calls"
        )
    return keys
