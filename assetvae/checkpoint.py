"""Run directories and checkpoints: atomic writes, safe loads (weights_only, never pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .errors import CheckpointError
from .plugin_api.fileio import atomic_path, atomic_write_text

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
CLASS_MODEL = "class_model.json"
PREVIEWS = "previews"
FORMAT = "assetvae-checkpoint"
VERSION = 1


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    """Write the checkpoint atomically: a crash leaves the previous one intact."""
    state = {"format": FORMAT, "version": VERSION, **state}
    with atomic_path(run_dir / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def load_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """Load a run's checkpoint with weights_only=True; damaged or foreign files are refused."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run directory; give the --out folder of `assetvae train`")
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint in this run directory; train first (assetvae train DATA --out {run_dir})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for damaged zips and foreign pickles
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else e.__class__.__name__
        raise CheckpointError(f"{path}: damaged or not an assetvae checkpoint ({msg}); retrain or restore it") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an assetvae checkpoint")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: written by a newer assetvae (checkpoint v{state['version']}); upgrade assetvae")
    try:
        state["config"] = RunConfig.from_dict(state["config"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: checkpoint has no valid config ({e})") from None
    return state


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    atomic_write_text(run_dir / CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break  # a torn last line from a crash: everything after it is unusable
    return rows


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the whole metrics file atomically (it is small), so resume can cut it back."""
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows))
