"""The runtime's public surface: one constructor, one argument order, close(), typed errors,
one output-layout helper, one Mahalanobis distance, and a cold start without Pillow or torch."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import assetvae.plugin_api as api
from assetvae.plugin_api import (
    AssetVAEError,
    AtlasError,
    BundleError,
    DeviceError,
    Generator,
    GeneratorClosedError,
    OutputLayout,
    SamplingError,
    sampling,
)
from assetvae.plugin_api.layout import graph_output, to_uint8_nhwc
from assetvae.plugin_api.manifest import RNG_SPECS, ClassLatent, Manifest


@pytest.fixture()
def gen(bundle):
    with Generator.load(bundle, device="cpu") as g:
        yield g


def test_one_argument_order_everywhere():
    """cls (or a, b, t) first, keys second; seed, spread, truncation keyword-only; the seed is
    required wherever keys are given, and 0 by default in sample()."""

    def params(name):
        return inspect.signature(getattr(Generator, name)).parameters

    for name, lead in [
        ("variants", ["cls", "keys"]),
        ("latents", ["cls", "keys"]),
        ("variants_async", ["cls", "keys"]),
        ("variants_like", ["image", "keys"]),
        ("blend", ["a", "b", "t", "keys"]),
        ("blend_latents", ["a", "b", "t", "keys"]),
        ("sample", ["cls", "n"]),
    ]:
        p = params(name)
        positional = [k for k, v in p.items() if v.kind is v.POSITIONAL_OR_KEYWORD][1:]
        assert positional == lead, name
        for kw in ("seed", "spread", "truncation"):
            assert p[kw].kind is p[kw].KEYWORD_ONLY, (name, kw)
        assert p["spread"].default == 1.0 and p["truncation"].default is None, name
        assert p["seed"].default == (0 if name == "sample" else inspect.Parameter.empty), name
    load = inspect.signature(Generator.load).parameters
    assert [k for k, v in load.items() if v.kind is v.KEYWORD_ONLY] == ["device", "threads"]


def test_the_seed_is_required_where_keys_are_given(gen):
    with pytest.raises(TypeError, match="seed"):
        gen.variants("pine", [0])
    with pytest.raises(TypeError):
        gen.variants("pine", [0], 7)  # seed is keyword-only


def test_load_is_the_only_constructor(bundle, gen):
    with pytest.raises(TypeError, match=r"Generator\.load"):
        Generator(bundle)
    with pytest.raises(TypeError, match=r"Generator\.load"):
        Generator(gen._session)  # a raw onnxruntime session is not enough either


def test_close_and_with_block(bundle):
    with Generator.load(bundle, device="cpu") as gen:
        want = gen.variants("pine", range(3), seed=5)
        assert not gen.closed
    assert gen.closed
    for call in (
        lambda: gen.variants("pine", [0], seed=5),
        lambda: gen.sample("pine", 1),
        lambda: gen.decode(np.zeros((1, gen.latent_dim), np.float32)),
        lambda: gen.latents("pine", [0], seed=5),
        lambda: gen.prototype("pine"),
        lambda: gen.variants_async("pine", [0], seed=5),
        lambda: gen.variants_async("pine", [0], seed=5, executor=ThreadPoolExecutor()),
        lambda: gen.blend("pine", "cactus", 0.5, [0], seed=5),
        lambda: gen.nearest_class(np.zeros(gen.latent_dim)),
    ):
        with pytest.raises(GeneratorClosedError, match="is closed; load the bundle again"):
            call()
    gen.close()  # twice: harmless
    assert gen.classes == ["cactus", "mushroom", "pine"]  # what the bundle holds stays readable
    assert "closed" in repr(gen)
    with Generator.load(bundle, device="cpu") as again:
        assert np.array_equal(again.variants("pine", range(3), seed=5), want)


def test_close_finishes_the_running_job_cancels_queued_ones_and_stops_the_thread(bundle):
    gen = Generator.load(bundle, device="cpu")
    started, go = threading.Event(), threading.Event()

    def hold(done, total):  # the first job waits here, in the worker thread, after its first key
        started.set()
        assert go.wait(60)

    running = gen.variants_async("pine", range(2), seed=5, chunk=1, progress=hold)
    queued = gen.variants_async("cactus", range(2), seed=5)
    assert started.wait(60)
    worker = gen._executor
    closer = threading.Thread(target=gen.close)
    closer.start()
    deadline = time.monotonic() + 60
    while not queued.cancelled():  # close() cancels what has not started ...
        assert time.monotonic() < deadline
        time.sleep(0.005)
    go.set()
    closer.join(60)
    assert not closer.is_alive() and gen.closed
    # ... and lets the running job finish with the same pixels as ever.
    with Generator.load(bundle, device="cpu") as again:
        assert np.array_equal(running.result(timeout=60), again.variants("pine", range(2), seed=5))
    with pytest.raises(RuntimeError):  # the background thread is shut down
        worker.submit(print)
    assert gen._session is None and gen._executor is None  # the session can be freed


def test_every_error_a_user_catches_is_exported():
    for cls in (BundleError, SamplingError, DeviceError, AtlasError, GeneratorClosedError):
        assert issubclass(cls, AssetVAEError) and cls.__name__ in api.__all__
    from assetvae.plugin_api.atlas import AtlasError as from_atlas
    from assetvae.plugin_api.bundle import DeviceError as from_bundle

    assert from_atlas is AtlasError and from_bundle is DeviceError  # the old homes still work
    assert "labelled_grid" not in api.__all__ and "FORMAT_VERSION" not in api.__all__


def test_device_error_is_the_exported_class(bundle):
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        Generator.load(bundle, device="tpu")


def test_output_layouts_and_the_one_decode_helper():
    assert [x.value for x in OutputLayout] == ["uint8_nhwc", "float32_nchw"]  # the JSON values
    assert OutputLayout("float32_nchw") is OutputLayout.FLOAT32_NCHW
    assert f"{OutputLayout.UINT8_NHWC}" == "uint8_nhwc" == str(OutputLayout.UINT8_NHWC)
    assert graph_output(OutputLayout.UINT8_NHWC, 16, 4) == ([16, 16, 4], "tensor(uint8)")
    assert graph_output(OutputLayout.FLOAT32_NCHW, 16, 4) == ([4, 16, 16], "tensor(float)")
    raw = np.random.default_rng(0).random((3, 4, 5, 5), dtype=np.float32)
    raw[0, 0, 0, :3] = [-0.2, 1.3, 0.5 / 255]  # clipped, clipped, half to even
    out = to_uint8_nhwc(raw, OutputLayout.FLOAT32_NCHW)
    assert out.dtype == np.uint8 and out.shape == (3, 5, 5, 4) and out.flags.c_contiguous
    assert out[0, 0, :3, 0].tolist() == [0, 255, 0]
    assert np.array_equal(
        out, np.clip(np.rint(raw * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    )
    u8 = np.arange(2 * 3 * 3 * 4, dtype=np.uint8).reshape(2, 3, 3, 4)
    assert np.array_equal(to_uint8_nhwc(u8, "uint8_nhwc"), u8)  # the JSON string works too
    with pytest.raises(ValueError):
        to_uint8_nhwc(u8, "rgb565")


def test_manifest_output_is_the_enum_and_round_trips():
    d = {
        "format": "assetvae-bundle",
        "version": "1.1",
        "image_size": 8,
        "channels": 4,
        "latent_dim": 2,
        "output": "float32_nchw",
        "rng": RNG_SPECS[0],
        "classes": [
            {"name": "a", "count": 1, "centroid": [0.0, 0.0], "chol": [[1.0, 0.0], [0.0, 1.0]]}
        ],
    }
    m = Manifest.from_dict(d)
    assert m.output is OutputLayout.FLOAT32_NCHW
    assert Manifest.from_json(m.to_json()).to_dict()["output"] == "float32_nchw"
    with pytest.raises(BundleError, match="output layout 'rgb565' is not one of"):
        Manifest.from_dict({**d, "output": "rgb565"})
    from assetvae.plugin_api import rng

    assert RNG_SPECS == (rng.SPEC_NAME,)


def test_mahalanobis_is_one_vectorised_function():
    r = np.random.default_rng(3)
    a = r.standard_normal((4, 4))
    chol = np.linalg.cholesky(a @ a.T + np.eye(4))
    centroid, z = r.standard_normal(4), r.standard_normal((6, 4))
    d2 = sampling.mahalanobis_sq(centroid, chol, z)
    cov = chol @ chol.T
    want = np.einsum("ni,ij,nj->n", z - centroid, np.linalg.inv(cov), z - centroid)
    assert d2.shape == (6,) and np.allclose(d2, want)
    assert sampling.mahalanobis_sq(centroid, chol, z[2]) == d2[2]  # one row: a scalar, the same
    assert d2.dtype == np.float64 and (d2 > 0).all()
    near = ClassLatent("near", 1, z[4] + 0.01, chol)
    far = ClassLatent("far", 1, z[4] + 5.0, chol)
    assert sampling.nearest_class([far, near], z[4]) == 1


def test_sampling_rules_are_pure_functions_of_their_inputs(gen):
    """The Generator's latents are exactly the sampling module's rules on the seed stream."""
    c = next(c for c in gen.manifest.classes if c.name == "cactus")
    keys = [0, "forest/cactus/3", 2**63]
    noise = sampling.normals(9, keys, gen.latent_dim)
    z = sampling.class_latents(c, 9, keys, noise, 0.7)
    assert np.array_equal(gen.latents("cactus", keys, seed=9, spread=0.7), z)
    assert np.array_equal(sampling.sample_class(c, 9, keys, spread=0.7), z)
    assert np.array_equal(z, sampling.gaussian_latents(c.centroid, c.chol, noise, 0.7))
    p = next(c for c in gen.manifest.classes if c.name == "pine")
    assert np.array_equal(
        gen.blend_latents("cactus", "pine", 0.25, keys, seed=9, spread=0.7),
        sampling.blend_latents(c, p, 0.25, noise, 0.7),
    )


def test_cold_start_needs_neither_pillow_nor_torch(bundle):
    """What a game pays for: import, load a bundle, make a variant. Nothing else is imported."""
    script = textwrap.dedent(f"""
        import sys
        import assetvae.plugin_api as api
        gen = api.Generator.load({str(bundle)!r}, device="cpu")
        img = gen.variants(gen.classes[0], [0], seed=1)
        assert img.shape == (1, 32, 32, 4), img.shape
        heavy = sorted(m for m in ("PIL", "torch", "click", "concurrent.futures")
                       if m in sys.modules)
        mods = sorted(m for m in sys.modules if m.startswith("assetvae"))
        print(" ".join(heavy) or "-", " ".join(mods))
        api.to_pil(img)  # still there when asked for: Pillow comes in now
        assert "PIL" in sys.modules
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    heavy, mods = r.stdout.split(" ", 1)
    assert heavy == "-", f"imported on the way to the first variant: {heavy}"
    assert "assetvae.plugin_api.images" not in mods and "assetvae.plugin_api.atlas" not in mods
