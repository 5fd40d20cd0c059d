"""Many threads, one Generator: every result equals the one computed alone, in one thread."""

from __future__ import annotations

import random
import threading

import numpy as np
from helpers import load_benchmark

from assetvae.plugin_api import Generator

THREADS = 8


def _requests(classes: list[str], n: int = 40) -> list[tuple]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        keys = [
            rnd.randrange(2**64) if rnd.random() < 0.3 else rnd.randrange(50)
            for _ in range(rnd.randint(1, 3))
        ]
        keys += [f"forest/{i}/{j}" for j in range(rnd.randint(0, 2))]
        out.append(
            (
                classes[i % len(classes)],
                keys,
                {"seed": rnd.randrange(2**64), "spread": rnd.choice([0.0, 0.6, 1.0, 2.0])},
            )
        )
    return out


def test_eight_threads_give_exactly_the_sequential_results(bundle):
    requests = _requests(Generator.load(bundle).classes)
    with Generator.load(bundle) as alone:
        sequential = [alone.variants(cls, keys, **kw) for cls, keys, kw in requests]

    gen = Generator.load(bundle)  # one instance shared by all threads
    start = threading.Barrier(THREADS)
    results: dict[int, list] = {}
    failures: list[BaseException] = []

    def worker(t: int) -> None:
        order = list(range(len(requests))) * 2
        random.Random(t).shuffle(order)  # each thread in its own order: calls interleave variously
        got = [None] * len(requests)
        try:
            start.wait()
            for i in order:
                cls, keys, kw = requests[i]
                out = gen.variants(cls, keys, **kw)
                assert got[i] is None or np.array_equal(got[i], out)
                got[i] = out
        except BaseException as e:  # reported below, with the thread's failure
            failures.append(e)
        results[t] = got

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]
    for t in range(THREADS):
        for i, ref in enumerate(sequential):
            assert np.array_equal(results[t][i], ref), (
                f"thread {t}, request {i} differs from the sequential result"
            )


def test_soak_benchmark_runs_and_finds_no_errors(bundle):
    soak = load_benchmark("soak")
    result = soak.soak(bundle, calls=200, threads=THREADS, distinct=30, keys_per_call=3, warmup=20)
    assert result["errors"] == 0, result["first_error"]
    assert result["calls"] == 200 and result["variants"] > 200
    assert result["rss_after_warmup_mib"] > 0
