"""The portable seed stream: shipped vectors, batch == scalar, C port, statistics, errors."""

from __future__ import annotations

import ast
import math
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetvae.plugin_api import rng

U64_MAX = 2**64 - 1
VECTORS = rng.load_vectors()
SEED_STREAM_C = Path(rng.__file__).with_name("ports") / "seed_stream.c"


def bits(a: np.ndarray) -> list[int]:
    return np.asarray(a, dtype=np.float32).view(np.uint32).tolist()


def vec_key(case: dict) -> rng.Key:
    return int(case["key"]) if case["key_type"] == "int" else case["key"]


# --- shipped vectors ----------------------------------------------------------------------
def test_vectors_are_for_this_spec_and_cover_the_edges():
    assert VECTORS["spec"] == rng.SPEC_NAME == "assetvae-splitmix-polar-v1"
    cases = VECTORS["normals"]
    seeds = {int(c["seed"]) for c in cases}
    assert {0, 1, 42, U64_MAX} <= seeds
    keys = {(c["key_type"], c["key"]) for c in cases}
    assert {
        ("int", "0"),
        ("int", str(U64_MAX)),
        ("str", ""),
        ("str", "forest/tree/17"),
        ("str", "forêt/木/3"),
    } <= keys
    assert {None, 2.0} <= {c["truncation"] for c in cases}
    for c in cases:
        assert len(c["bits"]) == len(c["values"]) == c["dim"]
        for b, v in zip(c["bits"], c["values"]):  # decimal is the same float32, for reading
            assert np.float32(v).view(np.uint32) == int(b, 16)
        if c["key_type"] == "str":
            assert bytes.fromhex(c["key_utf8_hex"]).decode("utf-8") == c["key"]


def test_vectors_hashes_states_uniforms_choices():
    for c in VECTORS["key_hash"]:
        assert f"{rng.key_hash(vec_key(c)):016x}" == c["hash"]
    for c in VECTORS["state"]:
        state = rng.variant_state(int(c["seed"]), vec_key(c), int(c["stream"]))
        assert f"{state:016x}" == c["state"]
    for c in VECTORS["uniform"]:
        u = rng.uniform(int(c["seed"]), vec_key(c), int(c["stream"]), int(c["index"]))
        assert struct.pack(">d", u).hex() == c["bits"]
        got = rng.uniform_batch(int(c["seed"]), [vec_key(c)], int(c["stream"]), int(c["index"]))
        assert got.tolist() == [u]
    for c in VECTORS["choice"]:
        args = (int(c["seed"]), vec_key(c), c["weights"])
        assert rng.choice(*args, index=int(c["index"])) == c["result"]
        got = rng.choice_batch(args[0], [args[1]], args[2], index=int(c["index"]))
        assert got.tolist() == [c["result"]]


@pytest.mark.parametrize(
    "case",
    VECTORS["normals"],
    ids=lambda c: (
        f"{c['seed']}-{c['key_type']}{c['key'][:20]!r}-{c['dim']}-{c['truncation']}-s{c['stream']}"
    ),
)
def test_vectors_normals_reference_and_batch(case):
    seed, key, stream = int(case["seed"]), vec_key(case), int(case["stream"])
    want = [int(b, 16) for b in case["bits"]]
    assert bits(rng._normals_reference(seed, key, case["dim"], case["truncation"], stream)) == want
    assert bits(rng.normals(seed, key, case["dim"], case["truncation"], stream=stream)) == want
    batch = rng.normals_batch(seed, [key], case["dim"], case["truncation"], stream=stream)
    assert batch.shape == (1, case["dim"]) and batch.dtype == np.float32
    assert bits(batch[0]) == want


def test_verify_vectors_helper():
    assert rng.verify_vectors() == sum(len(v) for v in VECTORS.values() if isinstance(v, list))


# --- the C port -----------------------------------------------------------------------------
def _c_key(case: dict) -> str:
    if case["key_type"] == "int":
        return f"i:{case['key']}"
    return "s:" + case["key"].encode("utf-8").hex()


def _c_key_of(key: rng.Key) -> str:
    return f"i:{key}" if isinstance(key, int) else "s:" + key.encode("utf-8").hex()


def _tau(t: float | None) -> str:
    return "-" if t is None else float(t).hex()


@pytest.fixture(scope="module", params=["c99", "c++17"])
def seed_stream_exe(request, tmp_path_factory) -> Path:
    """ports/seed_stream.c built with its self-test driver, as C99 and as C++17."""
    if request.param == "c99":
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        lang = ["-std=c99"]
    else:
        cc = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
        lang = ["-std=c++17", "-x", "c++"]
    if cc is None:
        pytest.skip(f"no {request.param} compiler on this machine")
    exe = tmp_path_factory.mktemp("seed_stream") / "seed_stream"
    cmd = [
        cc,
        *lang,
        "-O2",
        "-ffp-contract=off",
        "-Wall",
        "-DSEED_STREAM_MAIN",
        str(SEED_STREAM_C),
        "-o",
        str(exe),
        "-lm",
    ]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return exe


def test_c_port_reproduces_every_vector(seed_stream_exe):
    lines, want = [], []
    for c in VECTORS["key_hash"]:
        lines.append(f"hash {_c_key(c)}")
        want.append(c["hash"])
    for c in VECTORS["state"]:
        lines.append(f"state {c['seed']} {_c_key(c)} {c['stream']}")
        want.append(c["state"])
    for c in VECTORS["uniform"]:
        lines.append(f"uniform {c['seed']} {_c_key(c)} {c['stream']} {c['index']}")
        want.append(c["bits"])
    for c in VECTORS["choice"]:
        w = " ".join(float(x).hex() for x in c["weights"])
        lines.append(f"choice {c['seed']} {_c_key(c)} {c['index']} {len(c['weights'])} {w}")
        want.append(str(c["result"]))
    for c in VECTORS["normals"]:
        lines.append(
            f"normals {c['seed']} {_c_key(c)} {c['stream']} {c['dim']} {_tau(c['truncation'])}"
        )
        want.append(" ".join(c["bits"]))
    res = subprocess.run(
        [str(seed_stream_exe)],
        input="\n".join(lines) + "\n",
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    got = res.stdout.split("\n")[:-1]
    assert len(got) == len(want)
    for line, g, w in zip(lines, got, want):
        assert g == w, line


def test_c_port_matches_python_on_random_keys(seed_stream_exe):
    r = np.random.default_rng(11)
    keys: list[rng.Key] = [int(k) for k in r.integers(0, 2**63, 40, dtype=np.int64)]
    keys += ["".join(chr(c) for c in r.integers(32, 0x3000, int(n))) for n in r.integers(0, 12, 40)]
    seed = int(r.integers(0, 2**63)) * 2 + 1
    lines = [f"normals {seed} {_c_key_of(k)} 0 19 {_tau(t)}" for k in keys for t in (None, 1.25)]
    res = subprocess.run(
        [str(seed_stream_exe)],
        input="\n".join(lines) + "\n",
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    got = res.stdout.split("\n")[:-1]
    want = [
        " ".join(f"{b:08x}" for b in bits(rng.normals(seed, k, 19, t)))
        for k in keys
        for t in (None, 1.25)
    ]
    assert got == want


def test_c_port_argv_mode(seed_stream_exe):
    res = subprocess.run(
        [str(seed_stream_exe), "42", "s:" + b"forest/tree/17".hex(), "6", "2.0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    want = " ".join(f"{b:08x}" for b in bits(rng.normals(42, "forest/tree/17", 6, 2.0)))
    assert res.stdout.strip() == want


def test_c_port_core_is_small():
    text = SEED_STREAM_C.read_text(encoding="utf-8")
    core = text.split("/* ---- core")[1].split("/* ---- self-test driver")[0]
    assert len(core.strip().splitlines()) <= 60


# --- batch == scalar, purity ---------------------------------------------------------------
def _mixed_keys(r: np.random.Generator, n: int) -> list[rng.Key]:
    keys: list[rng.Key] = []
    for i in range(n):
        if i % 3 == 0:
            keys.append(f"forest/{int(r.integers(0, 1000))}/{i}")
        elif i % 3 == 1:
            keys.append(int(r.integers(0, 2**63, dtype=np.int64)) * 2 + int(r.integers(0, 2)))
        else:
            keys.append(int(r.integers(0, 5000)))
    return keys


@pytest.mark.parametrize("truncation", [None, 2.0, 0.7])
def test_batch_equals_scalar_in_any_order_and_size(truncation):
    r = np.random.default_rng(3)
    keys = _mixed_keys(r, 450)  # several internal blocks
    dim = 33
    full = rng.normals_batch(2024, keys, dim, truncation)
    ref = np.stack([rng.normals(2024, k, dim, truncation) for k in keys])
    assert full.view(np.uint32).tolist() == ref.view(np.uint32).tolist()
    perm = r.permutation(len(keys))
    shuffled = rng.normals_batch(2024, [keys[i] for i in perm], dim, truncation)
    assert np.array_equal(shuffled.view(np.uint32), full[perm].view(np.uint32))
    for size in (1, 2, 7, 64):
        part = rng.normals_batch(2024, keys[5 : 5 + size], dim, truncation)
        assert np.array_equal(part.view(np.uint32), full[5 : 5 + size].view(np.uint32))


def test_batch_accepts_ranges_and_integer_arrays():
    ints = list(range(300))
    want = rng.normals_batch(9, ints, 16)
    for keys in (
        range(300),
        np.arange(300),
        np.arange(300, dtype=np.uint64),
        np.arange(300, dtype=np.int32),
    ):
        assert np.array_equal(rng.normals_batch(9, keys, 16), want)
    big = np.array([0, U64_MAX, 2**63], dtype=np.uint64)
    assert np.array_equal(
        rng.normals_batch(9, big, 8), rng.normals_batch(9, [0, U64_MAX, 2**63], 8)
    )


def test_empty_batches_and_zero_dim():
    assert rng.normals_batch(1, [], 8).shape == (0, 8)
    assert rng.normals_batch(1, [1, "a"], 0).shape == (2, 0)
    assert rng.normals(1, 1, 0).shape == (0,)
    assert rng.uniform_batch(1, []).shape == (0,)
    assert rng.choice_batch(1, [], [1.0, 2.0]).shape == (0,)


def test_shorter_dim_is_a_prefix():
    long = rng.normals(5, "oak", 64, 1.5)
    for dim in (1, 2, 3, 31, 63):
        assert np.array_equal(rng.normals(5, "oak", dim, 1.5), long[:dim])
        assert np.array_equal(rng.normals_batch(5, ["oak"], dim, 1.5)[0], long[:dim])


def test_keys_seeds_and_streams_give_different_noise():
    a = rng.normals_batch(1, list(range(2000)), 16)
    assert len({row.tobytes() for row in a}) == 2000
    b = rng.normals_batch(2, list(range(2000)), 16)
    assert not np.any(np.all(a == b, axis=1))
    assert not np.array_equal(rng.normals(1, 5, 16), rng.normals(1, "5", 16))
    assert not np.array_equal(rng.normals(1, 5, 16), rng.normals(1, 5, 16, stream=1))
    names = [f"forest/tree/{i}" for i in range(2000)]
    assert len({rng.key_hash(k) for k in names} | {rng.key_hash(i) for i in range(2000)}) == 4000
    assert rng.variant_state(0, 0, 0) != rng.variant_state(0, 0, 1)


def test_string_key_hash_batch_matches_scalar():
    keys = ["", "a", "é", "forêt/木/3", "🌲" * 40, "x" * 1000, "forest/tree/17"]
    got = rng._key_hashes(keys).tolist()
    assert got == [rng.key_hash(k) for k in keys]
    # FNV-1a 64 itself: the published value for "a"
    assert rng._fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert rng._fnv1a64(b"") == 0xCBF29CE484222325


# --- statistics ---------------------------------------------------------------------------
def test_moments_of_100k_normals():
    x = rng.normals_batch(77, list(range(3125)), 32).astype(np.float64).ravel()
    assert x.size == 100_000
    assert abs(x.mean()) < 0.015  # 4.7 sigma
    assert abs(x.std() - 1.0) < 0.01
    assert abs(np.mean(x**4) / x.var() ** 2 - 3.0) < 0.1
    assert abs(np.mean(x > 1.96) - 0.025) < 0.003
    # within one vector, coordinates are uncorrelated
    m = x.reshape(3125, 32)
    c = np.corrcoef(m[:, :4].T)
    assert np.all(np.abs(c[np.triu_indices(4, 1)]) < 0.08)


def test_truncation_is_respected_and_keeps_the_shape():
    tau = 1.5
    x = rng.normals_batch(78, list(range(3125)), 32, truncation=tau).astype(np.float64).ravel()
    assert np.all(np.abs(x) <= tau)
    assert abs(x.mean()) < 0.015
    # std of a standard normal truncated to [-tau, tau]
    phi = math.exp(-tau * tau / 2) / math.sqrt(2 * math.pi)
    z = math.erf(tau / math.sqrt(2))
    assert abs(x.std() - math.sqrt(1 - 2 * tau * phi / z)) < 0.01
    odd = rng.normals_batch(1, list(range(200)), 16, truncation=2.1)  # not a float32 value
    assert np.all(np.abs(odd.astype(np.float64)) <= 2.1)


def test_uniforms_and_choices():
    u = rng.uniform_batch(3, list(range(50_000)))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005
    assert np.all(u * 2**53 == np.floor(u * 2**53))  # multiples of 2**-53
    assert [rng.uniform(3, k) for k in range(20)] == u[:20].tolist()
    assert rng.uniform(3, 4, stream=1, index=0) != rng.uniform(3, 4, stream=1, index=1)
    w = [0.5, 0.0, 0.3, 0.2]
    picks = rng.choice_batch(3, list(range(50_000)), w)
    freq = np.bincount(picks, minlength=4) / picks.size
    assert freq[1] == 0.0
    assert np.allclose(freq, w, atol=0.01)
    assert [rng.choice(3, k, w) for k in range(50)] == picks[:50].tolist()
    assert rng.choice(3, "oak", [0.0, 0.0, 2.0]) == 2
    # the choice is drawn from stream 1: independent of the latent normals (stream 0)
    assert rng.choice_batch(3, list(range(50)), w, index=1).tolist() == [
        rng.choice(3, k, w, index=1) for k in range(50)
    ]


def test_choice_cumulative_rule_at_the_top_edge():
    top = math.nextafter(1.0, 0.0)
    cum, last = rng._cumulative([0.1, 0.2, 0.0])
    assert last == 1
    assert rng._pick(cum, last, top) == 1  # never the zero-weight last component
    assert rng._pick(cum, last, 0.0) == 0
    assert rng._pick(*rng._cumulative([0.0, 1.0]), 0.0) == 1
    # The clamp (a guard: with u < 1, u * total < total) picks the last positive weight, even
    # one too small to change the running sum, as the C port's loop does.
    cum, last = rng._cumulative([3.0, 1e-300, 0.0])
    assert last == 1 and cum[-1] == 3.0
    assert top * 3.0 < 3.0
    assert rng._pick(cum, last, 1.0) == 1


# --- the portable logarithm ---------------------------------------------------------------
def test_log_constants_are_the_documented_ones():
    assert rng._LG == (
        6.666666666666735130e-01,
        3.999999999940941908e-01,
        2.857142874366239149e-01,
        2.222219843214978396e-01,
        1.818357216161805012e-01,
        1.531383769920937332e-01,
        1.479819860511658591e-01,
    )
    assert rng.LN2_HI == 6.93147180369123816490e-01
    assert rng.LN2_LO == 1.90821492927058770002e-10
    assert struct.pack(">d", rng.LN2_HI).hex() == "3fe62e42fee00000"
    assert rng.SQRT_HALF == math.sqrt(0.5)


def test_log_accuracy_within_one_ulp():
    r = np.random.default_rng(5)
    u, v = 2 * r.random(150_000) - 1, 2 * r.random(150_000) - 1
    s = u * u + v * v
    xs = np.concatenate(
        [
            r.random(100_000),  # uniform in (0, 1)
            np.exp2(-104 * r.random(50_000)),  # down to the smallest polar s
            1.0 - r.random(50_000) * 1e-4,  # just below 1
            1.0 - r.integers(1, 4096, 5_000) * 2.0**-53,  # last ulps below 1
            math.sqrt(0.5) * (1 + (r.random(20_000) - 0.5) * 1e-9),  # the reduction boundary
            s[(s < 1) & (s > 0)][:100_000],  # what the polar method feeds it
            [2.0**-104, 2.0**-53, 0.5, 0.75, math.nextafter(1.0, 0.0), math.sqrt(0.5)],
        ]
    )
    xs = xs[xs > 0]
    got = rng._portable_log_np(xs)
    want = np.array([math.log(x) for x in xs.tolist()])
    ulp = np.array([math.ulp(w) for w in want.tolist()])
    err = np.abs(got - want) / ulp
    assert err.max() <= 1.0  # spec goal: < 2 ulp; measured faithful (<= 1 ulp)
    assert np.mean(err == 0) > 0.9
    sample = xs[:: max(1, xs.size // 3000)]
    assert [rng.portable_log(x) for x in sample.tolist()] == got[
        :: max(1, xs.size // 3000)
    ].tolist()
    assert rng.portable_log(1.0) == 0.0 and rng.portable_log(0.5) == -math.log(2)


# --- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 2**64, 2**80, -(2**63)])
def test_out_of_range_seeds_raise_value_error(seed):
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        rng.normals(seed, 0, 4)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        rng.normals_batch(seed, [0], 4)
    with pytest.raises(ValueError):
        rng.variant_state(seed, "a")


@pytest.mark.parametrize("key", [-1, 2**64, -(2**70)])
def test_out_of_range_keys_raise_value_error(key):
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        rng.key_hash(key)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        rng.normals(0, key, 4)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
        rng.normals_batch(0, [1, "a", key], 4)
    with pytest.raises(ValueError):
        rng.normals_batch(0, np.array([3, -5]), 4)


def test_other_bad_arguments():
    for bad in (1.5, None, b"x", True):
        with pytest.raises(TypeError):
            rng.key_hash(bad)
        with pytest.raises(TypeError):
            rng.normals(bad, 0, 4)
        with pytest.raises(TypeError):
            rng.normals_batch(0, [1, bad], 4)
    for tau in (0.0, -1.0, float("nan"), 0.01):
        with pytest.raises(ValueError):
            rng.normals(0, 0, 4, tau)
        with pytest.raises(ValueError):
            rng.normals_batch(0, [0], 4, tau)
    with pytest.raises(ValueError):
        rng.normals(0, 0, -1)
    with pytest.raises(ValueError):
        rng.normals(0, 0, 4, stream=-1)
    for w in ([], [0.0, 0.0], [1.0, -0.5], [1.0, float("inf")], [float("nan")], [1e308] * 2):
        with pytest.raises(ValueError):
            rng.choice(0, 0, w)
    with pytest.raises(ValueError):
        rng.key_hash("\ud800")  # lone surrogate: not encodable as UTF-8


# --- properties -----------------------------------------------------------------------------
keys_strategy = st.one_of(st.integers(0, U64_MAX), st.text(max_size=40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, U64_MAX),
    key=keys_strategy,
    dim=st.integers(0, 24),
    truncation=st.sampled_from([None, 0.5, 1.0, 3.0]),
)
def test_any_seed_and_key_give_finite_normals(seed, key, dim, truncation):
    n = rng.normals(seed, key, dim, truncation)
    assert n.shape == (dim,) and n.dtype == np.float32
    assert np.all(np.isfinite(n))
    if truncation is not None:
        assert np.all(np.abs(n) <= truncation)
    b = rng.normals_batch(seed, [key, 0, "x"], dim, truncation)
    assert np.array_equal(b[0].view(np.uint32), n.view(np.uint32))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, U64_MAX), keys=st.lists(keys_strategy, min_size=1, max_size=30))
def test_batch_hashing_and_uniforms_match_scalar(seed, keys):
    assert rng._key_hashes(keys).tolist() == [rng.key_hash(k) for k in keys]
    assert rng.uniform_batch(seed, keys).tolist() == [rng.uniform(seed, k) for k in keys]


# --- hygiene and speed ----------------------------------------------------------------------
def test_module_imports_only_stdlib_and_numpy():
    tree = ast.parse(Path(rng.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "rng.py must not import the rest of the project"
            roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"numpy"}


def test_batch_is_fast_enough():
    keys = list(range(10_000))
    rng.normals_batch(1, keys, 32)
    t0 = time.perf_counter()
    rng.normals_batch(1, keys, 32)
    assert time.perf_counter() - t0 < 1.0  # ~12 ms measured; generous for slow CI
