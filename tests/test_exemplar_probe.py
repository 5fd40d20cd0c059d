"""The exemplar probe (benchmarks/exemplar_probe.py): it refits a copy of the run at each
scale, so the run itself is left as it was, and the scale changes the variants it scores."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from helpers import load_benchmark


def test_each_scale_is_scored_on_a_copy_and_changes_the_variants(
    trained_run, tmp_path, monkeypatch
):
    probe = load_benchmark("exemplar_probe")
    assert probe.parse_scales("off,0,0.25") == [None, 0.0, 0.25]
    classes = ["cactus", "mushroom", "pine"]
    real = SimpleNamespace(
        name="plants",
        images=np.zeros((3, 32, 32, 4), np.uint8),
        counts=[2, 2, 2],
        a_counts=[2, 2, 2],
        data=SimpleNamespace(classes=classes),
    )
    seen = {}

    def score(real_, samples):  # what quality.py's scorer is handed
        seen[len(seen)] = samples[1.0]
        blocks = {"colour": 0.5}
        return {
            "realism": {"1": 1.0},
            "two_sample": {"accuracy": 0.6, "blocks": blocks},
            "novelty": {"1": 0.9},
            "diversity": {"1": {"mean": 1.0}},
            "consistency": {"ratio": 1.0},
            "colour_truth": {"mean": 1.0},
        }

    monkeypatch.setattr(probe.Q, "score_samples", score)
    before = (trained_run / "class_model.json").read_bytes()
    rows = [probe.score_scale(trained_run, s, real, 3, tmp_path) for s in (0.0, 0.5, 0.0)]
    assert (trained_run / "class_model.json").read_bytes() == before  # the run is untouched
    assert rows[0]["two_sample"] == 0.6 and rows[0]["diversity"] == 1.0
    n = max([probe.Q.MUSHROOM_SAMPLES] + real.counts)
    assert [x.shape for x in seen[0]] == [(n, 32, 32, 4)] * 3
    assert all(np.array_equal(a, b) for a, b in zip(seen[0], seen[2]))  # seeded: repeatable
    assert not all(np.array_equal(a, b) for a, b in zip(seen[0], seen[1]))  # the scale tells
