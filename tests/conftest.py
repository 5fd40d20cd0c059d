"""Shared fixtures: tests build their own small data; nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Never touch the user's ~/.cache from tests.
    monkeypatch.setenv("ASSETVAE_CACHE", str(tmp_path_factory.getbasetemp() / "image-cache"))


@pytest.fixture(scope="session")
def tiny_plants(tmp_path_factory) -> Path:
    """Three demo classes, 6 images each, 32 px: enough to train for two epochs in seconds."""
    from assetvae.datasets.demo import demo_images

    root = tmp_path_factory.mktemp("tiny") / "plants"
    images = demo_images(per_class=6, seed=3, size=32)
    for cls in ("pine", "mushroom", "cactus"):
        for i, im in enumerate(images[cls]):
            (root / cls).mkdir(parents=True, exist_ok=True)
            im.save(root / cls / f"{cls}_{i:02d}.png")
    return root


@pytest.fixture(scope="session")
def trained_run(tiny_plants, tmp_path_factory) -> Path:
    """A 2-epoch run at 32 px (session-wide: the export and runtime tests share it)."""
    from assetvae.config import ModelConfig, RunConfig, TrainConfig
    from assetvae.train import train

    run = tmp_path_factory.mktemp("runs") / "run"
    cfg = RunConfig(
        data=str(tiny_plants),
        model=ModelConfig(image_size=32, latent_dim=8, width=8, max_width=32),
        # The class Gaussian (not exemplars): the runtime tests check its sampling rule exactly.
        train=TrainConfig(epochs=2, batch_size=8, seed=1, warmup_epochs=1, exemplar_scale=None),
    )
    train(cfg, run, progress=False, log=lambda s: None)
    return run


@pytest.fixture(scope="session")
def bundle(trained_run, tmp_path_factory) -> Path:
    from assetvae.export.bundle import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "plants.avae.onnx"
    export_bundle(trained_run, out)
    return out
