"""Generator.variants_async: the non-blocking API for load screens."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assetvae.plugin_api import Generator, SamplingError


@pytest.fixture(scope="module")
def gen(bundle) -> Generator:
    return Generator.load(bundle, device="cpu")


def test_async_result_equals_the_blocking_call_and_reports_progress(gen):
    keys = [f"forest/pine/{i}" for i in range(50)] + list(range(20))
    calls: list[tuple[int, int, str]] = []
    future = gen.variants_async(
        "pine",
        keys,
        seed=7,
        spread=0.6,
        truncation=2.0,
        chunk=16,
        progress=lambda d, t: calls.append((d, t, threading.current_thread().name)),
    )
    got = future.result(timeout=60)
    assert np.array_equal(got, gen.variants("pine", keys, seed=7, spread=0.6, truncation=2.0))
    assert [(d, t) for d, t, _ in calls] == [(16, 70), (32, 70), (48, 70), (64, 70), (70, 70)]
    assert all(name != threading.current_thread().name for _, _, name in calls)  # a worker thread


def test_many_jobs_at_once_and_an_own_executor(gen):
    want = {c: gen.variants(c, range(40), seed=3) for c in gen.classes}
    futures = {c: gen.variants_async(c, range(40), seed=3, chunk=7) for c in gen.classes}
    with ThreadPoolExecutor(max_workers=3) as pool:
        own = {
            c: gen.variants_async(c, range(40), seed=3, chunk=5, executor=pool) for c in gen.classes
        }
        blocking = {c: gen.variants(c, range(40), seed=3) for c in gen.classes}  # meanwhile
        for c in gen.classes:
            assert np.array_equal(futures[c].result(timeout=60), want[c])
            assert np.array_equal(own[c].result(timeout=60), want[c])
            assert np.array_equal(blocking[c], want[c])


def test_bad_requests_raise_at_once_not_in_the_future(gen):
    with pytest.raises(SamplingError, match="unknown class"):
        gen.variants_async("oak", range(4), seed=0)
    with pytest.raises(SamplingError, match="spread"):
        gen.variants_async("pine", range(4), seed=0, spread=-1)
    with pytest.raises(SamplingError, match="seed"):
        gen.variants_async("pine", range(4), seed=-1)
    with pytest.raises(SamplingError, match="truncation"):
        gen.variants_async("pine", range(4), seed=0, truncation=0.0)
    with pytest.raises(SamplingError, match="key"):
        gen.variants_async("pine", [0, -1], seed=0)
    with pytest.raises(SamplingError, match="chunk"):
        gen.variants_async("pine", range(4), seed=0, chunk=0)


def test_an_error_in_the_progress_callback_fails_the_future(gen):
    def progress(done, total):
        raise RuntimeError("load screen closed")

    future = gen.variants_async("cactus", range(10), seed=0, progress=progress, chunk=4)
    with pytest.raises(RuntimeError, match="load screen closed"):
        future.result(timeout=60)
    assert gen.variants_async("cactus", [], seed=0).result(timeout=60).shape == (0, 32, 32, 4)
