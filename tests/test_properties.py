"""Property tests on hostile input: the manifest parser, the seed stream and the image loader.

The parsers face files from anywhere. Whatever they are given, they either succeed or raise
their one typed error (BundleError, ImageLoadError): never KeyError, TypeError, OverflowError,
struct.error or anything else a host would have to guess at.
"""

from __future__ import annotations

import copy
import io
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from assetvae.datasets.folder import ImageLoadError, LoadOptions, load_image
from assetvae.plugin_api import BundleError, OutputLayout, rng
from assetvae.plugin_api.manifest import FORMAT_NAME, FORMAT_VERSION, RNG_SPECS, Manifest

FAST = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])

U64 = st.integers(min_value=0, max_value=2**64 - 1)


# --- the manifest parser --------------------------------------------------------------------
def valid_manifest() -> dict:
    rs = np.random.default_rng(0)
    classes = []
    for name in ("oak", "pine"):
        chol = np.tril(rs.normal(size=(3, 3)), -1) + np.diag(rs.uniform(0.5, 2.0, 3))
        classes.append(
            {
                "name": name,
                "count": 5,
                "centroid": rs.normal(size=3).tolist(),
                "chol": chol.tolist(),
                "components": [],
            }
        )
    eye = np.eye(3).tolist()
    classes[1]["components"] = [
        {"weight": 0.5, "centroid": [0.0, 0.0, 0.0], "chol": eye},
        {"weight": 1.5, "centroid": [1.0, 0.0, 0.0], "chol": eye},
    ]
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "image_size": 32,
        "channels": 4,
        "latent_dim": 3,
        "output": OutputLayout.UINT8_NHWC.value,
        "rng": RNG_SPECS[0],
        "classes": classes,
        "training": {"epochs": 2},
        "export": {"opset": 13},
    }


def test_the_base_manifest_is_valid():
    m = Manifest.from_dict(valid_manifest())
    assert [c.name for c in m.classes] == ["oak", "pine"]
    assert Manifest.from_json(m.to_json()).to_dict() == m.to_dict()


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**1100)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)


def _parse_only_bundle_errors(d) -> None:
    try:
        Manifest.from_dict(d)
    except BundleError as e:
        assert str(e) and "\n" not in str(e)


@FAST
@given(json_values)
def test_arbitrary_structures_only_raise_bundle_error(d):
    _parse_only_bundle_errors(d)


@FAST
@given(st.data())
def test_mutated_valid_manifests_only_raise_bundle_error(data):
    d = valid_manifest()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        # Walk to a random container inside the manifest, then replace, delete or add an entry.
        node = d
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            k = data.draw(st.sampled_from(keys), label="key")
            child = node[k]
            deeper = isinstance(child, (dict, list)) and child
            if deeper and data.draw(st.booleans(), label="deeper"):
                node = child
                continue
            action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
            if action == "replace":
                node[k] = data.draw(json_values, label="value")
            elif action == "delete":
                del node[k]
            elif isinstance(node, dict):
                key = data.draw(st.text(max_size=8), label="new key")
                node[key] = data.draw(json_values, label="value")
            else:
                node.append(data.draw(json_values, label="value"))
            break
    _parse_only_bundle_errors(d)


@FAST
@given(st.data())
def test_mutated_manifest_text_only_raises_bundle_error(data):
    text = json.dumps(valid_manifest())
    raw = bytearray(text.encode())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="kind")
        if kind == "flip":
            raw[i] = data.draw(st.integers(0, 255), label="byte")
        elif kind == "cut":
            del raw[i:]
            if not raw:
                break
        else:
            raw[i:i] = data.draw(
                st.sampled_from(
                    [
                        b"NaN",
                        b"1e999",
                        b"-Infinity",
                        b"[",
                        b"{",
                        b'"',
                        b"\\u0000",
                        b"\xff",
                        b"99999999999999999999999",
                        b"null",
                        b",",
                    ]
                ),
                label="ins",
            )
    try:
        Manifest.from_json(bytes(raw))
    except BundleError as e:
        assert "\n" not in str(e)


@FAST
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_text_only_raises_bundle_error(text):
    with pytest.raises(BundleError):
        Manifest.from_json(text)


def test_deep_nesting_and_huge_numbers():
    for text in ["[" * 50_000 + "]" * 50_000, '{"a":' * 50_000 + "1" + "}" * 50_000]:
        with pytest.raises(BundleError):
            Manifest.from_json(text)
    d = valid_manifest()
    d["classes"][0]["centroid"][0] = 10**400  # json.loads gives a Python int this big
    with pytest.raises(BundleError, match="centroid"):
        Manifest.from_dict(d)
    d = valid_manifest()
    d["classes"][1]["components"][0]["weight"] = 10**400
    with pytest.raises(BundleError, match="weight"):
        Manifest.from_dict(d)


# --- the seed stream ------------------------------------------------------------------------
keys = U64 | st.text(max_size=40)


@FAST
@given(U64, keys, st.integers(1, 40), st.none() | st.floats(0.05, 5.0))
def test_any_seed_and_key_give_finite_float32_normals(seed, key, dim, truncation):
    n = rng.normals(seed, key, dim, truncation)
    assert n.dtype == np.float32 and n.shape == (dim,)
    assert np.isfinite(n).all()
    if truncation is not None:
        assert np.abs(n).max() <= np.float32(truncation)
    assert np.array_equal(rng.normals_batch(seed, [key], dim, truncation)[0], n)


@FAST
@given(U64, keys, keys)
def test_distinct_keys_give_distinct_noise(seed, a, b):
    assume(type(a) is not type(b) or a != b)  # 5 and "5" are different keys, and must differ
    na, nb = rng.normals_batch(seed, [a, b], 8)
    assert not np.array_equal(na, nb)


@FAST
@given(U64, U64, keys)
def test_distinct_seeds_give_distinct_noise(s1, s2, key):
    assume(s1 != s2)
    assert not np.array_equal(rng.normals(s1, key, 8), rng.normals(s2, key, 8))


@FAST
@given(st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.none() | st.booleans())
def test_out_of_range_or_wrong_type_seeds_are_refused_cleanly(seed):
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**64:
        return
    with pytest.raises((ValueError, TypeError)):
        rng.normals(seed, 0, 4)


# --- the image loader on random bytes -------------------------------------------------------
def _encoded(fmt: str, **kw) -> bytes:
    rs = np.random.default_rng(len(fmt))
    im = Image.fromarray(rs.integers(0, 255, (12, 10, 4), dtype=np.uint8), "RGBA")
    if fmt in ("JPEG", "BMP"):
        im = im.convert("RGB")
    if fmt == "GIF":
        im = im.convert("P")
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


SEEDS = [
    _encoded("PNG"),
    _encoded("JPEG"),
    _encoded("GIF"),
    _encoded("BMP"),
    _encoded("WEBP", lossless=True),
]
_DIR = Path(tempfile.mkdtemp(prefix="assetvae-fuzz-"))


def _load(data: bytes, suffix: str = ".png") -> None:
    path = _DIR / f"f{suffix}"
    path.write_bytes(data)
    try:
        a = load_image(path, LoadOptions(size=16))
    except ImageLoadError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:
        assert a.shape == (16, 16, 4) and a.dtype == np.uint8


@FEWER
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_image_load_error(data):
    _load(data)


@FEWER
@given(
    st.sampled_from(
        [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBPVP8 "]
    ),
    st.binary(max_size=512),
)
def test_image_signatures_with_garbage_only_raise_image_load_error(magic, rest):
    _load(magic + rest)


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SEEDS))), st.data())
def test_mutated_real_images_only_raise_image_load_error(which, data):
    raw = bytearray(SEEDS[which])
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        if not raw:
            break
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        kind = data.draw(st.sampled_from(["flip", "cut", "dup", "insert"]), label="kind")
        if kind == "flip":
            raw[i] = data.draw(st.integers(0, 255), label="byte")
        elif kind == "cut":
            del raw[i:]
        elif kind == "dup":
            raw[i:i] = raw[i : i + data.draw(st.integers(1, 64), label="n")]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
    _load(bytes(raw), [".png", ".jpg", ".gif", ".bmp", ".webp"][which])


def test_seed_images_load():
    for data in SEEDS:
        _load(data)
    assert math.isfinite(float(load_image(_write(SEEDS[0]), LoadOptions(size=16)).mean()))


def _write(data: bytes) -> Path:
    path = _DIR / "seed.png"
    path.write_bytes(data)
    return path


def test_fuzz_helpers_do_not_share_state_with_the_manifest():
    d = valid_manifest()
    e = copy.deepcopy(d)
    Manifest.from_dict(d)
    assert d == e  # parsing never mutates its input


def test_gif_that_made_pillow_raise_struct_error_is_an_image_load_error():
    """Found by fuzzing: Pillow's GIF parser raised struct.error, which escaped as a crash."""
    data = bytes.fromhex(
        "4749463837610a000c008600000d0e15070a3c191aa206280a0934d41448830a84a0049c9e15a8b708a7f101"
        "de3a2306852f06a53e0cbb3400c230192b2028c8353ab120401c3141a93f5d073a67e0277da52b84482c85c2"
        "38910731b2b039c1b035eb6c20eea133f86c411636534bf85952ce4862575aa77c4ca09c45a5e35ca6ea46e3"
        "1c7524856d3795763e926a35a5634b31604f667d45866d43c87e47e273616d76788564bedd67c04772d33a73"
        "ed2565f1169b181c9219ec8626639b4ea18e48fd9951ef988b6a9886dd91bd728fcf1794cb4d89d8598cecf9"
        "af124bb92f6aa522f9a23d0da23c6da038febe490db56c03bb61aea660b8bf7b09a67772af9a60a3a808b8d6"
        "30beee49a1f0c4c3067ec03d2bc6511fcd5e5dd76360cb794ecc9a4bcc94e6caad1cdeb759cbb19cccb8c0c4"
        "e950fa2466ed3f98fc36ebe049f8e493a9f29fade996f1fab326e2e55ee1c807f4c433f7c1bdedccf3e3df99"
        "f4d2eeefd0e6e2e82eeee1bbf4e5cafbf365edfef10000000000000000000000000000000000000000000000"
        "002c00000000000000000000000000000000002c000000"
    )
    path = _DIR / "struct_error.gif"
    path.write_bytes(data)
    with pytest.raises(ImageLoadError, match="damaged or unreadable"):
        load_image(path, LoadOptions(size=16))
