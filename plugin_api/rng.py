"""Portable counter-based seed stream: the latent noise of variant ``(seed, key)``.

Every number this module produces is a pure function of its arguments -- never of batch
size, order, thread or host -- and is bit-identical in every port of the spec
``assetvae-splitmix-polar-v1`` (docs/SEEDS.md; C reference in ``ports/seed_stream.c``;
test vectors in ``rng_vectors.json``). Between the 64-bit integers and the float32 result
only IEEE-754 exactly-rounded operations (+ - * / sqrt) are used, in a fixed order, so no
libm difference can leak in.

Two implementations of the normals exist and must agree bit for bit: a scalar pure-Python
reference (:func:`_normals_reference`, used by :func:`normals`) and a vectorised numpy one
(:func:`normals_batch`) for many keys at once.

Imports only the standard library and numpy.
"""

from __future__ import annotations

import json
import math
import numbers
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SPEC_NAME",
    "STREAM_CHOICE",
    "STREAM_NORMALS",
    "Key",
    "choice",
    "choice_batch",
    "key_hash",
    "load_vectors",
    "normals",
    "normals_batch",
    "portable_log",
    "stream_u64",
    "uniform",
    "uniform_batch",
    "variant_state",
    "verify_vectors",
]

SPEC_NAME = "assetvae-splitmix-polar-v1"

Key = int | str

STREAM_NORMALS = 0  # the latent normal vector n
STREAM_CHOICE = 1  # discrete choices (e.g. which sub-cluster component)

# --- constants of the spec (docs/SEEDS.md lists them with their bit patterns) -------------
_M64 = (1 << 64) - 1
_U64_RANGE = "[0, 2**64)"
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MIX_MUL1 = 0xBF58476D1CE4E5B9
MIX_MUL2 = 0x94D049BB133111EB
GOLDEN = 0x9E3779B97F4A7C15  # counter increment (SplitMix64's gamma)
# Domain tags: the first words of SHA-512's initial hash value (fractional parts of sqrt of
# 2, 3, 5, 7), i.e. nothing-up-my-sleeve numbers.
SEED_TAG = 0x6A09E667F3BCC908
KEY_INT_TAG = 0xBB67AE8584CAA73B
KEY_STR_TAG = 0x3C6EF372FE94F82B
STREAM_MUL = 0xA54FF53A5F1D36F1  # odd, so stream -> stream*STREAM_MUL is a bijection
_TWO_M53 = 2.0**-53

# portable_log: fdlibm's e_log.c coefficients (minimax-tuned atanh series), from bit patterns.
_LG = tuple(
    float.fromhex(h)
    for h in (
        "0x1.5555555555593p-1",  # Lg1 ~ 2/3
        "0x1.999999997fa04p-2",  # Lg2 ~ 2/5
        "0x1.2492494229359p-2",  # Lg3 ~ 2/7
        "0x1.c71c51d8e78afp-3",  # Lg4 ~ 2/9
        "0x1.7466496cb03dep-3",  # Lg5 ~ 2/11
        "0x1.39a09d078c69fp-3",  # Lg6 ~ 2/13
        "0x1.2f112df3e5244p-3",  # Lg7 ~ 2/15
    )
)
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")  # low 32 bits zero: e*LN2_HI is exact
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
SQRT_HALF = float.fromhex("0x1.6a09e667f3bcdp-1")  # nearest double to sqrt(1/2)

# API guard, not part of the stream spec: below this a truncated draw wastes > 96% of normals.
MIN_TRUNCATION = 0.05


# --- validation ---------------------------------------------------------------------------
def _check_u64(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int in {_U64_RANGE}, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value <= _M64:
        raise ValueError(f"{what} must be in {_U64_RANGE} (negative ints are refused), got {value}")
    return value


def _check_dim(dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim < 0:
        raise ValueError(f"dim must be >= 0, got {dim}")
    return int(dim)


def _check_truncation(truncation: float | None) -> float | None:
    if truncation is None:
        return None
    if isinstance(truncation, bool) or not isinstance(truncation, numbers.Real):
        raise TypeError(
            f"truncation must be None or a number >= {MIN_TRUNCATION}, "
            f"got {type(truncation).__name__}"
        )
    tau = float(truncation)
    if not tau >= MIN_TRUNCATION:  # also refuses NaN
        raise ValueError(f"truncation must be None or >= {MIN_TRUNCATION}, got {truncation!r}")
    return tau


# --- integer part -------------------------------------------------------------------------
def _mix(z: int) -> int:
    """SplitMix64's finalizer, a bijection on 64-bit words."""
    z ^= z >> 30
    z = (z * MIX_MUL1) & _M64
    z ^= z >> 27
    z = (z * MIX_MUL2) & _M64
    return z ^ (z >> 31)


def _fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & _M64
    return h


def key_hash(key: Key) -> int:
    """The 64-bit hash of a variant key.

    An int key k in [0, 2**64) hashes to ``mix(k ^ KEY_INT_TAG)`` (a bijection, so distinct
    int keys never collide); a str key to ``mix(fnv1a64(utf8(key)) ^ KEY_STR_TAG)``. The two
    tags keep int and str keys in different domains: ``5`` and ``"5"`` are unrelated.

    Raises:
        ValueError: an int key outside [0, 2**64).
        TypeError: a key that is neither int nor str (bools are refused).
    """
    if isinstance(key, str):
        return _mix(_fnv1a64(key.encode("utf-8")) ^ KEY_STR_TAG)
    return _mix(_check_u64(key, "key") ^ KEY_INT_TAG)


def _stream_base(seed: int, stream: int) -> int:
    return _mix(_check_u64(seed, "seed") ^ SEED_TAG) ^ (
        (_check_u64(stream, "stream") * STREAM_MUL) & _M64
    )


def variant_state(seed: int, key: Key, stream: int = STREAM_NORMALS) -> int:
    """The 64-bit state of sub-stream ``stream`` of variant ``(seed, key)``.

    ``state = mix(mix(seed ^ SEED_TAG) ^ key_hash(key) ^ (stream * STREAM_MUL mod 2**64))``.
    Stream 0 feeds the latent normals, stream 1 the discrete choices.
    """
    return _mix(_stream_base(seed, stream) ^ key_hash(key))


def stream_u64(state: int, index: int) -> int:
    """Counter ``index`` of a stream: ``mix(state + (index + 1) * GOLDEN)`` mod 2**64."""
    return _mix((state + (index + 1) * GOLDEN) & _M64)


def _u01(state: int, index: int) -> float:
    # The top 53 bits as a multiple of 2**-53 in [0, 1): exact in float64.
    return (stream_u64(state, index) >> 11) * _TWO_M53


# --- the portable logarithm ---------------------------------------------------------------
def portable_log(x: float) -> float:
    """Natural log of a positive normal double using only exactly-rounded IEEE operations.

    ``x = m * 2**e`` (frexp, exact); if ``m < SQRT_HALF``: ``m *= 2, e -= 1``, so
    ``m`` is in [sqrt(1/2), sqrt(2)). With ``f = m - 1`` (exact), ``t = f / (2 + f)``
    (= (m-1)/(m+1)), ``w = t*t``, ``R = w*(Lg1 + w*(Lg2 + ... + w*Lg7))``,
    ``h = 0.5*f*f``: ``ln x = e*LN2_HI - ((h - (t*(h + R) + e*LN2_LO)) - f)``.
    That is ln m = 2*atanh(t) = f - h + t*(h + R), fdlibm's arrangement of the series, with
    a fixed order of operations. Error < 1 ulp against a correctly rounded log
    (tests/test_rng.py measures it against ``math.log``).
    """
    m, e = math.frexp(x)
    if m < SQRT_HALF:
        m *= 2.0
        e -= 1
    f = m - 1.0
    t = f / (2.0 + f)
    w = t * t
    lg1, lg2, lg3, lg4, lg5, lg6, lg7 = _LG
    r = w * (lg1 + w * (lg2 + w * (lg3 + w * (lg4 + w * (lg5 + w * (lg6 + w * lg7))))))
    h = 0.5 * f * f
    k = float(e)
    return k * LN2_HI - ((h - (t * (h + r) + k * LN2_LO)) - f)


def _portable_log_np(x: np.ndarray) -> np.ndarray:
    """:func:`portable_log` elementwise; every numpy op here is exactly rounded, unfused."""
    m, e = np.frexp(x)
    small = m < SQRT_HALF
    m = m * (1.0 + small)  # m*2 where small, m*1 elsewhere: exact either way
    k = (e - small).astype(np.float64)
    f = m - 1.0
    t = f / (2.0 + f)
    w = t * t
    lg1, lg2, lg3, lg4, lg5, lg6, lg7 = _LG
    r = w * (lg1 + w * (lg2 + w * (lg3 + w * (lg4 + w * (lg5 + w * (lg6 + w * lg7))))))
    h = 0.5 * f * f
    return k * LN2_HI - ((h - (t * (h + r) + k * LN2_LO)) - f)


# --- scalar reference ---------------------------------------------------------------------
_F32 = struct.Struct("<f")


def _to_f32(x: float) -> float:
    # C's (float)x: round to nearest, ties to even.
    return _F32.unpack(_F32.pack(x))[0]


def _normals_reference(
    seed: int, key: Key, dim: int, truncation: float | None = None, stream: int = STREAM_NORMALS
) -> np.ndarray:
    """Scalar pure-Python reference of the normals; the definition the ports follow."""
    dim = _check_dim(dim)
    tau = _check_truncation(truncation)
    state = variant_state(seed, key, stream)
    out: list[float] = []
    i = 0
    while len(out) < dim:
        u = 2.0 * _u01(state, i) - 1.0
        v = 2.0 * _u01(state, i + 1) - 1.0
        i += 2
        s = u * u + v * v
        if s >= 1.0 or s == 0.0:
            continue  # rejected pair: the counter just moves on
        factor = math.sqrt((-2.0 * portable_log(s)) / s)
        for n in (u * factor, v * factor):
            n32 = _to_f32(n)
            if tau is not None and abs(n32) > tau:
                continue  # truncation compares the float32 value
            out.append(n32)
            if len(out) == dim:
                break
    return np.array(out, dtype=np.float32)


def normals(
    seed: int, key: Key, dim: int, truncation: float | None = None, *, stream: int = STREAM_NORMALS
) -> np.ndarray:
    """The latent noise of variant ``(seed, key)``: float32 array of ``dim`` standard normals.

    Args:
        seed: world seed, int in [0, 2**64).
        key: variant key, int in [0, 2**64) or str (hashed over UTF-8).
        dim: latent size (>= 0). ``normals(.., dim=a)`` is a prefix of ``dim=b > a``.
        truncation: if given (>= MIN_TRUNCATION), normals whose float32 value has
            ``|n| > truncation`` are skipped and the next ones from the stream taken.
        stream: sub-stream id (0 = latent normals).

    Raises:
        ValueError: seed/key/stream out of range, negative dim, bad truncation.
    """
    return _normals_reference(seed, key, dim, truncation, stream)


# --- vectorised path ----------------------------------------------------------------------
_NP_MUL1 = np.uint64(MIX_MUL1)
_NP_MUL2 = np.uint64(MIX_MUL2)
_NP_GOLDEN = np.uint64(GOLDEN)
_NP_FNV_PRIME = np.uint64(FNV_PRIME)


def _mix_np(z: np.ndarray) -> np.ndarray:
    """:func:`_mix` elementwise on a uint64 array (modified in place and returned)."""
    z ^= z >> 30
    z *= _NP_MUL1  # uint64 array multiply wraps mod 2**64
    z ^= z >> 27
    z *= _NP_MUL2
    z ^= z >> 31
    return z


def _fnv1a64_np(encoded: list[bytes]) -> np.ndarray:
    """FNV-1a 64 of many byte strings at once (one vector step per byte column)."""
    n = len(encoded)
    lens = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    order = np.argsort(-lens, kind="stable")  # longest first: active rows are a prefix
    lens_sorted = lens[order]
    width = int(lens_sorted[0]) if n else 0
    buf = np.zeros((n, width), dtype=np.uint8)
    total = int(lens.sum())
    if total:
        flat = np.frombuffer(b"".join(encoded[j] for j in order), dtype=np.uint8)
        rows = np.repeat(np.arange(n), lens_sorted)
        starts = np.cumsum(lens_sorted) - lens_sorted
        cols = np.arange(total) - np.repeat(starts, lens_sorted)
        buf[rows, cols] = flat
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    # active[j] = number of strings longer than j
    active = np.searchsorted(-lens_sorted, -np.arange(width), side="left")
    for j in range(width):
        a = int(active[j])
        hj = h[:a]
        hj ^= buf[:a, j]
        hj *= _NP_FNV_PRIME
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    return out


def _key_hashes(keys: Sequence[Key] | np.ndarray) -> np.ndarray:
    """:func:`key_hash` of every key, as a uint64 array."""
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
        arr = keys.reshape(-1)
        if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
            raise ValueError(
                f"key must be in {_U64_RANGE} (negative ints are refused), got {int(arr.min())}"
            )
        return _mix_np(arr.astype(np.uint64) ^ np.uint64(KEY_INT_TAG))
    keys = list(keys)
    n = len(keys)
    is_str = np.fromiter((isinstance(k, str) for k in keys), dtype=bool, count=n)
    out = np.empty(n, dtype=np.uint64)
    str_idx = np.flatnonzero(is_str)
    int_idx = np.flatnonzero(~is_str)
    if int_idx.size:
        ints = [keys[i] for i in int_idx] if str_idx.size else keys
        for k in ints:
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
                raise TypeError(
                    f"key must be an int in {_U64_RANGE} or a str, got {type(k).__name__}"
                )
        lo, hi = min(ints), max(ints)
        if lo < 0 or hi > _M64:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"key must be in {_U64_RANGE} (negative ints are refused), got {int(bad)}"
            )
        arr = np.array([int(k) for k in ints], dtype=np.uint64)
        out[int_idx] = _mix_np(arr ^ np.uint64(KEY_INT_TAG))
    if str_idx.size:
        fnv = _fnv1a64_np([keys[i].encode("utf-8") for i in str_idx])
        out[str_idx] = _mix_np(fnv ^ np.uint64(KEY_STR_TAG))
    return out


def _states(seed: int, keys: Sequence[Key] | np.ndarray, stream: int) -> np.ndarray:
    base = _stream_base(seed, stream)
    return _mix_np(_key_hashes(keys) ^ np.uint64(base))


def _u01_np(states: np.ndarray, start: int, count: int) -> np.ndarray:
    """Uniforms of counters start..start+count-1 for every state: float64 [len(states), count]."""
    steps = np.arange(start + 1, start + count + 1, dtype=np.uint64) * _NP_GOLDEN
    x = _mix_np(states[:, None] + steps[None, :])
    return (x >> 11).astype(np.float64) * _TWO_M53


def _pairs_for(need: int, keep: float) -> int:
    """Pairs to draw so that a row almost surely yields ``need`` normals in one pass."""
    p = (math.pi / 4.0) * keep  # chance one normal of a pair survives, roughly
    mean = need / (2.0 * p)
    return math.ceil(mean + 4.0 * math.sqrt(mean) + 2.0)


# Rows per block: keeps every float64 temporary at <= 128 KiB (16k elements), below glibc
# malloc's mmap threshold and cache-sized; whole-batch temporaries get mapped and unmapped
# by malloc on every step, which measured 2.5x slower for 10k keys x dim 32.
_BLOCK_ELEMENTS = 1 << 14


def _normals_block(
    states: np.ndarray, dim: int, tau: float | None, keep: float, out: np.ndarray
) -> None:
    """Fill ``out`` [len(states), dim] with the normals of each state (the batch kernel)."""
    n_rows = states.shape[0]
    filled = np.zeros(n_rows, dtype=np.int64)
    rows = np.arange(n_rows)
    flat_out = out.reshape(-1)
    counter = 0  # every row of a pass draws the same counters
    while rows.size:
        pairs = _pairs_for(int(dim - filled[rows].min()), keep)
        ab = _u01_np(states[rows], counter, 2 * pairs)
        counter += 2 * pairs
        u = 2.0 * ab[:, 0::2] - 1.0
        v = 2.0 * ab[:, 1::2] - 1.0
        s = u * u + v * v
        ok = (s < 1.0) & (s != 0.0)
        s_safe = s + (0.5 - s) * ~ok  # rejected pairs get a harmless ~0.5, then dropped
        factor = np.sqrt((-2.0 * _portable_log_np(s_safe)) / s_safe)
        n32 = np.empty((rows.size, pairs, 2), dtype=np.float32)
        n32[:, :, 0] = u * factor  # float64 -> float32 rounds to nearest even
        n32[:, :, 1] = v * factor
        n32 = n32.reshape(rows.size, 2 * pairs)
        valid = np.repeat(ok, 2, axis=1)
        if tau is not None:
            valid &= np.abs(n32).astype(np.float64) <= tau  # as doubles, like the C port
        # Append each row's valid normals, in counter order, after what it already has.
        flat = n32[valid]  # row-major: row by row, counter order within a row
        count = valid.sum(axis=1)
        have = filled[rows]
        take = np.minimum(count, dim - have)
        within = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
        src = np.repeat(np.cumsum(count) - count, take) + within
        dst = np.repeat(rows * dim + have, take) + within
        flat_out[dst] = flat[src]
        filled[rows] = have + take
        rows = rows[filled[rows] < dim]


def normals_batch(
    seed: int,
    keys: Sequence[Key] | np.ndarray,
    dim: int,
    truncation: float | None = None,
    *,
    stream: int = STREAM_NORMALS,
) -> np.ndarray:
    """:func:`normals` for many keys at once: float32 array ``[len(keys), dim]``.

    Row ``r`` is bit-identical to ``normals(seed, keys[r], dim, truncation)`` whatever the
    batch. ``keys`` may mix ints and strs, or be an integer numpy array.

    Raises:
        ValueError: seed/key/stream out of range, negative dim, bad truncation.
    """
    dim = _check_dim(dim)
    tau = _check_truncation(truncation)
    with np.errstate(over="ignore"):
        states = _states(seed, keys, stream)
    n_rows = states.shape[0]
    out = np.empty((n_rows, dim), dtype=np.float32)
    if dim == 0 or n_rows == 0:
        return out
    keep = 1.0 if tau is None else math.erf(tau / math.sqrt(2.0))
    block = max(1, _BLOCK_ELEMENTS // (2 * _pairs_for(dim, keep)))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for lo in range(0, n_rows, block):
            _normals_block(states[lo : lo + block], dim, tau, keep, out[lo : lo + block])
    return out


# --- uniforms and discrete choices ---------------------------------------------------------
def uniform(seed: int, key: Key, stream: int = STREAM_CHOICE, index: int = 0) -> float:
    """Uniform double in [0, 1), a multiple of 2**-53: counter ``index`` of the sub-stream."""
    return _u01(variant_state(seed, key, stream), _check_u64(index, "index"))


def uniform_batch(
    seed: int, keys: Sequence[Key] | np.ndarray, stream: int = STREAM_CHOICE, index: int = 0
) -> np.ndarray:
    """:func:`uniform` for many keys: float64 array ``[len(keys)]``."""
    index = _check_u64(index, "index")
    with np.errstate(over="ignore"):
        states = _states(seed, keys, stream)
        steps = np.uint64(((index + 1) * GOLDEN) & _M64)
        x = _mix_np(states + steps)
    return (x >> 11).astype(np.float64) * _TWO_M53


def _cumulative(weights: Sequence[float] | np.ndarray) -> tuple[np.ndarray, int]:
    """Running left-to-right float64 sums of the weights, and the last positive weight's index."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size == 0:
        raise ValueError("weights must not be empty")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    with np.errstate(over="ignore"):  # an infinite sum is refused just below
        cum = np.cumsum(w)  # add.accumulate: sequential sums, like the ports' loop
    if not 0.0 < cum[-1] < math.inf:
        raise ValueError("weights must not all be zero, and must have a finite sum")
    return cum, int(np.flatnonzero(w > 0.0)[-1])


def _pick(cum: np.ndarray, last: int, u: np.ndarray | float) -> np.ndarray:
    # First i with u*total < cum[i]; if rounding puts u*total at total, the last positive one.
    target = np.asarray(u, dtype=np.float64) * cum[-1]
    return np.minimum(np.searchsorted(cum, target, side="right"), last)


def choice(
    seed: int,
    key: Key,
    weights: Sequence[float] | np.ndarray,
    *,
    index: int = 0,
    stream: int = STREAM_CHOICE,
) -> int:
    """Pick a component with probability proportional to ``weights``, using stream 1.

    ``u = uniform(seed, key, stream, index)``; ``cum`` = running float64 sums of the
    weights, left to right; the result is the first ``i`` with ``u * cum[-1] < cum[i]``
    (clamped to the last index with positive weight). Zero weights are never picked.
    """
    cum, last = _cumulative(weights)
    return int(_pick(cum, last, uniform(seed, key, stream, index)))


def choice_batch(
    seed: int,
    keys: Sequence[Key] | np.ndarray,
    weights: Sequence[float] | np.ndarray,
    *,
    index: int = 0,
    stream: int = STREAM_CHOICE,
) -> np.ndarray:
    """:func:`choice` for many keys: int64 array ``[len(keys)]``."""
    cum, last = _cumulative(weights)
    return _pick(cum, last, uniform_batch(seed, keys, stream, index)).astype(np.int64)


# --- shipped test vectors -----------------------------------------------------------------
VECTORS_PATH = Path(__file__).with_name("rng_vectors.json")


def load_vectors() -> dict[str, Any]:
    """The shipped test vectors (``rng_vectors.json``) that every port must reproduce."""
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def _vector_key(case: dict[str, Any]) -> Key:
    return int(case["key"]) if case["key_type"] == "int" else str(case["key"])


def verify_vectors(vectors: dict[str, Any] | None = None) -> int:
    """Check this implementation (scalar and batch) against the vectors; returns cases run.

    Raises:
        AssertionError: naming the first case that differs.
    """
    v = load_vectors() if vectors is None else vectors
    assert v["spec"] == SPEC_NAME, v["spec"]
    count = 0
    for c in v["key_hash"]:
        assert f"{key_hash(_vector_key(c)):016x}" == c["hash"], c
        count += 1
    for c in v["state"]:
        got = variant_state(int(c["seed"]), _vector_key(c), int(c["stream"]))
        assert f"{got:016x}" == c["state"], c
        count += 1
    for c in v["uniform"]:
        got = uniform(int(c["seed"]), _vector_key(c), int(c["stream"]), int(c["index"]))
        assert struct.pack(">d", got).hex() == c["bits"], c
        count += 1
    for c in v["choice"]:
        got = choice(int(c["seed"]), _vector_key(c), c["weights"], index=int(c["index"]))
        assert got == c["result"], c
        count += 1
    for c in v["normals"]:
        seed, key = int(c["seed"]), _vector_key(c)
        args = (seed, c["dim"], c["truncation"])
        want = [int(b, 16) for b in c["bits"]]
        ref = _normals_reference(seed, key, c["dim"], c["truncation"], int(c["stream"]))
        batch = normals_batch(seed, [key], c["dim"], c["truncation"], stream=int(c["stream"]))[0]
        assert ref.view(np.uint32).tolist() == want, ("reference", key, args)
        assert batch.view(np.uint32).tolist() == want, ("batch", key, args)
        count += 1
    return count
