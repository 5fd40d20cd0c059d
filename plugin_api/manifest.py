"""The bundle manifest: the one schema the exporter writes and the runtime reads.

It is JSON stored in the ONNX model's ``metadata_props`` under ``METADATA_KEY`` (and,
optionally, in a sidecar ``.json`` file carrying the graph's SHA-256). Unknown fields are
ignored; a newer major version is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rng as _rng
from .errors import BundleError
from .layout import OutputLayout

FORMAT_NAME = "assetvae-bundle"
# major.minor: a minor bump only adds optional fields (1.1: exemplars; 1.2: animations)
FORMAT_VERSION = "1.2"
METADATA_KEY = "assetvae.manifest"
RNG_SPECS = (_rng.SPEC_NAME,)  # the seed streams this runtime implements
MAX_LATENT = 4096
# The side of any image the runtime reads or writes: a bundle's sprites, an atlas page, a
# preview sheet. Beyond what any GPU samples as one texture.
MAX_IMAGE_SIDE = 16384
MAX_EXEMPLARS = 100_000
MAX_ANIMATION_FRAMES = 4096
MAX_ANIMATION_VALUES = 20_000_000  # instances x frames x latent, per class: a sane bundle size
DIRECTIONS = ("forward", "reverse", "pingpong", "pingpong_reverse")  # Aseprite's tag directions
_JSON_NUMBERS = {int, float}


@dataclass
class Component:
    """One sub-cluster of a class: a Gaussian with its own weight, centroid and factor."""

    weight: float
    centroid: np.ndarray  # float64 [latent]
    chol: np.ndarray  # float64 [latent, latent], lower triangular


@dataclass
class AnimationLatent:
    """One animation of a class (1.2): how its frames sit in latent space around each of the
    training animations (instances) it was learned from.

    A variant picks an instance with the seed stream, draws its identity as an exemplar rule
    does (around that instance's mean latent), and adds that instance's per-frame offsets:
    one noise vector for every frame, so the prop keeps its look while it moves.
    """

    name: str
    means: np.ndarray  # float64 [m, latent]: each instance's mean latent over its frames
    offsets: np.ndarray  # float64 [m, frames, latent]: each frame's latent minus that mean
    prototype: int = 0  # the instance that stands for the animation at spread 0
    scale: float = 0.3  # the identity noise, as a fraction of the class factor
    durations: list[int] = field(default_factory=list)  # ms per frame (empty: 100 each)
    direction: str = "forward"
    sources: list[str] = field(default_factory=list)  # each instance's sheet, for people

    @property
    def frames(self) -> int:
        return int(self.offsets.shape[1])


@dataclass
class ClassLatent:
    """What the trainer learned about one class: where it sits in latent space and its spread."""

    name: str
    count: int
    centroid: np.ndarray  # float64 [latent]
    chol: np.ndarray  # float64 [latent, latent], lower Cholesky factor of the covariance
    components: list[Component] = field(default_factory=list)
    # Exemplar sampling (1.1): the posterior means of the class's training images; a variant
    # picks one with the seed stream and varies around it by exemplar_scale * chol.
    exemplars: np.ndarray | None = None  # float64 [m, latent]
    exemplar_scale: float = 0.0
    prototype: int | None = None  # index of the exemplar that stands for the class at spread 0
    animations: list[AnimationLatent] = field(default_factory=list)  # 1.2

    def anchor(self) -> np.ndarray:
        """What spread 0 decodes to: the prototype exemplar if there is one, else the centroid."""
        if self.exemplars is not None and self.prototype is not None:
            return self.exemplars[self.prototype]
        return self.centroid


@dataclass
class Manifest:
    image_size: int
    latent_dim: int
    classes: list[ClassLatent]
    channels: int = 4
    output: OutputLayout = OutputLayout.UINT8_NHWC
    rng: str = RNG_SPECS[0]
    training: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT_NAME
    version: str = FORMAT_VERSION
    graph_sha256: str | None = None  # only in a sidecar file, to pair it with its graph
    encoder_sha256: str | None = None  # set when NAME.avae.encoder.onnx was exported beside it

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": self.format,
            "version": self.version,
            "image_size": self.image_size,
            "channels": self.channels,
            "latent_dim": self.latent_dim,
            "output": OutputLayout(self.output).value,
            "rng": self.rng,
            "classes": [class_to_dict(c) for c in self.classes],
            "training": self.training,
            "export": self.export,
        }
        if self.graph_sha256 is not None:
            d["graph_sha256"] = self.graph_sha256
        if self.encoder_sha256 is not None:
            d["encoder_sha256"] = self.encoder_sha256
        return d

    def to_json(self) -> str:
        # allow_nan=False: a NaN must never reach a file that engines parse.
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            d = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:
            raise BundleError(
                f"bundle manifest is not valid JSON ({e}); re-export the bundle"
            ) from None
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: Any) -> Manifest:
        """Validate and build. Every problem is a BundleError naming the field."""
        _check(isinstance(d, dict), "manifest must be a JSON object")
        _check(
            d.get("format") == FORMAT_NAME, f"format is {d.get('format')!r}, not {FORMAT_NAME!r}"
        )
        version = d.get("version")
        _check(
            isinstance(version, str) and _parse_version(version) is not None,
            f"version {version!r} is not of the form MAJOR.MINOR",
        )
        major = _parse_version(version)[0]
        supported = _parse_version(FORMAT_VERSION)[0]
        if major > supported:
            raise BundleError(
                f"bundle format version {version} is newer than this runtime supports "
                f"({FORMAT_VERSION}); upgrade assetvae to load it"
            )
        image_size = _int(d, "image_size", 1, MAX_IMAGE_SIDE)
        latent = _int(d, "latent_dim", 1, MAX_LATENT)
        channels = _int(d, "channels", 1, 4)
        _check(channels == 4, f"channels is {channels}; this runtime reads RGBA (4) bundles")
        output = d.get("output", OutputLayout.UINT8_NHWC.value)
        layouts = tuple(x.value for x in OutputLayout)
        _check(
            isinstance(output, str) and output in layouts,
            f"output layout {output!r} is not one of {layouts}",
        )
        rng = d.get("rng")
        _check(rng in RNG_SPECS, f"RNG spec {rng!r} is unknown to this runtime; upgrade assetvae")
        raw = d.get("classes")
        _check(isinstance(raw, list) and raw, "classes must be a non-empty list")
        classes = [class_from_dict(c, latent, i) for i, c in enumerate(raw)]
        names = [c.name for c in classes]
        _check(len(set(names)) == len(names), "class names must be unique")
        for key in ("training", "export"):
            _check(isinstance(d.get(key, {}), dict), f"{key} must be an object")
        sha = d.get("graph_sha256")
        _check(sha is None or isinstance(sha, str), "graph_sha256 must be a string")
        enc_sha = d.get("encoder_sha256")
        _check(enc_sha is None or isinstance(enc_sha, str), "encoder_sha256 must be a string")
        return cls(
            image_size=image_size,
            latent_dim=latent,
            classes=classes,
            channels=channels,
            output=OutputLayout(output),
            rng=rng,
            training=d.get("training", {}),
            export=d.get("export", {}),
            format=FORMAT_NAME,
            version=version,
            graph_sha256=sha,
            encoder_sha256=enc_sha,
        )


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise BundleError(f"bad bundle manifest: {msg}; re-export the bundle")


def _parse_version(v: str) -> tuple[int, int] | None:
    parts = v.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _int(d: dict, key: str, lo: int, hi: int) -> int:
    v = d.get(key)
    _check(
        isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi,
        f"{key} must be an integer in {lo}..{hi}, got {v!r}",
    )
    return v


def _floats(a: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def _numbers(row: list) -> bool:
    # JSON gives exact int and float objects: one C-level pass; anything else, the careful check
    return set(map(type, row)) <= _JSON_NUMBERS or all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in row
    )


def _rows(v: Any, n: int, what: str) -> np.ndarray:
    """A list of lists of n finite numbers, as float64 [len(v), n]."""
    for r in v:
        _check(isinstance(r, list) and len(r) == n, f"{what} must be a list of {n} numbers")
        _check(_numbers(r), f"{what} must hold only numbers")
    try:
        a = np.asarray(v, dtype=np.float64).reshape(len(v), n)
    except OverflowError:  # JSON allows integers of any length; float64 does not
        a = np.array([math.inf])
    _check(bool(np.isfinite(a).all()), f"{what} holds NaN or infinite values")
    return a


def _vector(v: Any, n: int, what: str) -> np.ndarray:
    return _rows([v], n, what)[0]


def _positive_number(x: Any) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x)) and x > 0
    except OverflowError:
        return False


def _factor(v: Any, n: int, what: str) -> np.ndarray:
    _check(isinstance(v, list) and len(v) == n, f"{what} must be a {n}x{n} matrix")
    m = _rows(v, n, what)
    _check(bool(np.all(np.triu(m, 1) == 0)), f"{what} must be lower triangular")
    diag = np.diag(m)
    _check(bool(np.all(diag > 0)), f"{what} must have a positive diagonal (positive definite)")
    return m


def _gauss(c: ClassLatent | Component) -> dict[str, Any]:
    return {"centroid": _floats(c.centroid), "chol": [_floats(r) for r in c.chol]}


def class_to_dict(c: ClassLatent) -> dict[str, Any]:
    """One class as the manifest stores it (also the run directory's class_model.json rows)."""
    d = {
        "name": c.name,
        "count": c.count,
        **_gauss(c),
        "components": [{"weight": k.weight, **_gauss(k)} for k in c.components],
    }
    if c.exemplars is not None:
        d["exemplars"] = {"scale": c.exemplar_scale, "centroids": [_floats(e) for e in c.exemplars]}
        if c.prototype is not None:
            d["exemplars"]["prototype"] = c.prototype
    if c.animations:  # written only when there are some: a still class's record is as in 1.1
        d["animations"] = [animation_to_dict(a) for a in c.animations]
    return d


def animation_to_dict(a: AnimationLatent) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": a.name,
        "frames": a.frames,
        "prototype": a.prototype,
        "scale": a.scale,
        "direction": a.direction,
        "means": [_floats(m) for m in a.means],
        "offsets": [[_floats(f) for f in inst] for inst in a.offsets],
    }
    if a.durations:
        d["durations"] = [int(x) for x in a.durations]
    if a.sources:
        d["sources"] = list(a.sources)
    return d


def animation_from_dict(a: Any, latent: int, cls: str, j: int) -> AnimationLatent:
    """Validate and build one animation record of class cls."""
    where = f"class {cls!r} animation {j}"
    _check(isinstance(a, dict), f"{where} must be an object")
    name = a.get("name")
    _check(isinstance(name, str) and 0 < len(name) <= 200, f"{where}: name must be a string")
    where = f"class {cls!r} animation {name!r}"
    frames = _int(a, "frames", 1, MAX_ANIMATION_FRAMES) if "frames" in a else None
    means = a.get("means")
    _check(
        isinstance(means, list) and 0 < len(means) <= MAX_EXEMPLARS,
        f"{where}: means must be a list of 1 to {MAX_EXEMPLARS} vectors",
    )
    offsets = a.get("offsets")
    _check(
        isinstance(offsets, list) and len(offsets) == len(means),
        f"{where}: offsets must hold one list of frames per mean",
    )
    n_frames = (
        frames
        if frames is not None
        else (len(offsets[0]) if offsets and isinstance(offsets[0], list) else 0)
    )
    _check(
        1 <= n_frames <= MAX_ANIMATION_FRAMES,
        f"{where}: frames must be 1 to {MAX_ANIMATION_FRAMES}",
    )
    _check(len(means) * n_frames * latent <= MAX_ANIMATION_VALUES, f"{where} is too large")
    for inst in offsets:
        _check(
            isinstance(inst, list) and len(inst) == n_frames,
            f"{where}: each instance's offsets must list {n_frames} frames",
        )
    m = _rows(means, latent, f"{where} mean")
    o = _rows([f for inst in offsets for f in inst], latent, f"{where} offset")
    prototype = a.get("prototype", 0)
    _check(
        isinstance(prototype, int)
        and not isinstance(prototype, bool)
        and 0 <= prototype < len(means),
        f"{where}: prototype must be an index into its means",
    )
    scale = a.get("scale", 0.3)
    _check(
        isinstance(scale, (int, float))
        and not isinstance(scale, bool)
        and math.isfinite(scale)
        and 0 <= scale <= 10,
        f"{where}: scale must be 0 to 10",
    )
    durations = a.get("durations", [])
    _check(
        isinstance(durations, list)
        and (not durations or len(durations) == n_frames)
        and all(
            isinstance(x, int) and not isinstance(x, bool) and 0 < x <= 60_000 for x in durations
        ),
        f"{where}: durations must list {n_frames} times in ms (1 to 60000)",
    )
    direction = a.get("direction", "forward")
    _check(direction in DIRECTIONS, f"{where}: direction must be one of {DIRECTIONS}")
    sources = a.get("sources", [])
    _check(
        isinstance(sources, list) and all(isinstance(x, str) for x in sources),
        f"{where}: sources must be a list of strings",
    )
    return AnimationLatent(
        name=name,
        means=m,
        offsets=o.reshape(len(means), n_frames, latent),
        prototype=prototype,
        scale=float(scale),
        durations=list(durations),
        direction=direction,
        sources=list(sources),
    )


def class_from_dict(c: Any, latent: int, i: int = 0) -> ClassLatent:
    """Validate and build one class record; every problem is a BundleError naming the field."""
    _check(isinstance(c, dict), f"classes[{i}] must be an object")
    name = c.get("name")
    _check(
        isinstance(name, str) and 0 < len(name) <= 200,
        f"classes[{i}].name must be a non-empty string",
    )
    count = c.get("count", 0)
    _check(
        isinstance(count, int) and not isinstance(count, bool) and count >= 0,
        f"class {name!r}: count must be a non-negative integer",
    )
    centroid = _vector(c.get("centroid"), latent, f"class {name!r} centroid")
    chol = _factor(c.get("chol"), latent, f"class {name!r} factor")
    comps = c.get("components", [])
    _check(isinstance(comps, list), f"class {name!r}: components must be a list")
    components = []
    for j, k in enumerate(comps):
        _check(isinstance(k, dict), f"class {name!r} component {j} must be an object")
        w = k.get("weight")
        _check(
            _positive_number(w), f"class {name!r} component {j}: weight must be a positive number"
        )
        components.append(
            Component(
                weight=float(w),
                centroid=_vector(
                    k.get("centroid"), latent, f"class {name!r} component {j} centroid"
                ),
                chol=_factor(k.get("chol"), latent, f"class {name!r} component {j} factor"),
            )
        )
    exemplars, scale, prototype = None, 0.0, None
    ex = c.get("exemplars")
    if ex is not None:
        _check(isinstance(ex, dict), f"class {name!r}: exemplars must be an object")
        scale = ex.get("scale")
        _check(
            isinstance(scale, (int, float))
            and not isinstance(scale, bool)
            and math.isfinite(scale)
            and 0 <= scale <= 10,
            f"class {name!r}: exemplars.scale must be a number in 0..10",
        )
        rows = ex.get("centroids")
        _check(
            isinstance(rows, list) and 0 < len(rows) <= MAX_EXEMPLARS,
            f"class {name!r}: exemplars.centroids must be a list of 1 to {MAX_EXEMPLARS} vectors",
        )
        exemplars = _rows(rows, latent, f"class {name!r} exemplar")
        prototype = ex.get("prototype")
        _check(
            prototype is None
            or (
                isinstance(prototype, int)
                and not isinstance(prototype, bool)
                and 0 <= prototype < len(rows)
            ),
            f"class {name!r}: exemplars.prototype must be an index into its centroids",
        )
    anims = c.get("animations", [])
    _check(isinstance(anims, list), f"class {name!r}: animations must be a list")
    animations = [animation_from_dict(a, latent, name, j) for j, a in enumerate(anims)]
    _check(
        len({a.name for a in animations}) == len(animations),
        f"class {name!r}: animation names must be unique",
    )
    return ClassLatent(
        name=name,
        count=count,
        centroid=centroid,
        chol=chol,
        components=components,
        exemplars=exemplars,
        exemplar_scale=float(scale),
        prototype=prototype,
        animations=animations,
    )
