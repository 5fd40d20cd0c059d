"""quality.probe_variants (benchmarks/rescore.py, the probes) samples a saved bundle as its
quality row did, and benchmarks/two_sample_calibration.py changes real art in known ways and
can score with another copy of the metrics module."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from helpers import load_benchmark


def test_probe_variants_sample_a_bundle_as_its_row_did(bundle):
    from assetvae.plugin_api import Generator

    quality = load_benchmark("quality")
    gen = Generator.load(bundle, device="cpu")
    classes = ["cactus", "mushroom", "pine"]
    real = SimpleNamespace(
        name="plants",
        images=np.zeros((3, 64, 64, 4), np.uint8),  # the evaluation size
        counts=[2, 60, 2],
        data=SimpleNamespace(classes=classes),
    )
    first = quality.probe_variants(gen, real, seed=7)
    assert [x.shape for x in first] == [(60, 64, 64, 4)] * 3  # the largest of the counts
    again = quality.probe_variants(gen, real, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # the row's own variants
    other = quality.probe_variants(gen, real, seed=8)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_calibration_changes_are_what_they_say_and_another_bank_loads(tmp_path):
    cal = load_benchmark("two_sample_calibration")
    rng = np.random.default_rng(0)
    art = np.zeros((4, 16, 16, 4), np.uint8)
    art[:, 4:12, 4:12] = [*rng.integers(10, 245, 3), 255]
    for label, levels in (("+-1 level", 1), ("+-2 levels", 2)):
        moved = cal.CHANGES[label](art).astype(int) - art
        assert np.abs(moved).max() == levels
    blurred = cal.CHANGES["blur 0.5 px"](art)
    assert 0 < blurred[0, 3, 8, 3] < 255  # the hard alpha edge goes soft
    assert np.array_equal(cal.CHANGES["as is"](art), art)
    other = tmp_path / "bank.py"
    other.write_text("FEATURE_BANK = 99\n")
    assert cal.load_metrics(str(other)).FEATURE_BANK == 99
    assert cal.load_metrics(None) is cal.qm
