"""Run directories and checkpoints: atomic writes, safe loads (weights_only, never pickle)."""

from __future__ import annotations

import json
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from .config import RunConfig
from .errors import CheckpointError, ConfigError
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
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), the checkpoint is lost; retrain")
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol chatter is not the user's business
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refused something. Never pass on torch's advice to retry with
        # weights_only=False: a file that imports code must not be loaded at all.
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found:
            raise CheckpointError(
                f"{path}: refused to load: it asks to run Python code ({found.group(1)}), which an "
                "assetvae checkpoint never does; do not trust this file, retrain or restore your own"
            ) from None
        raise CheckpointError(f"{path}: damaged or not an assetvae checkpoint (the safe loader refused "
                              "its contents; nothing in it was run); retrain or restore it") from None
    except Exception as e:  # torch raises many types for damaged zips
        first = str(e).strip().splitlines()[0].split(". ")[0][:160] if str(e).strip() else e.__class__.__name__
        raise CheckpointError(f"{path}: damaged or not an assetvae checkpoint ({first}); retrain or restore it") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an assetvae checkpoint")
    version = state.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{path}: written by a newer assetvae (checkpoint v{version}); upgrade assetvae")
    try:
        state["config"] = RunConfig.from_dict(state["config"])
        state["config"].validate()
    except (KeyError, TypeError, AttributeError, ConfigError) as e:
        raise CheckpointError(f"{path}: checkpoint has no valid config ({e}); retrain") from None
    _check_contents(state, path)
    return state


def _check_contents(state: dict[str, Any], path: Path) -> None:
    """The weights must be the ones the config's model has, name for name and shape for shape."""
    from .model import VAE

    epoch, weights, opt = state.get("epoch"), state.get("model"), state.get("optimizer")
    if not (isinstance(epoch, int) and epoch >= 0 and isinstance(weights, dict) and isinstance(opt, dict)
            and isinstance(opt.get("param_groups"), list) and isinstance(state.get("dataset_fingerprint"), str)):
        raise CheckpointError(f"{path}: incomplete checkpoint (epoch, weights, optimiser state or data "
                              "fingerprint missing); retrain or restore it")
    with torch.device("meta"):  # shapes only, no memory
        model = VAE(state["config"].model)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}
    if got != want:
        diff = sorted(set(want) ^ set(got)) or sorted(k for k in want if want[k] != got[k])
        raise CheckpointError(f"{path}: the weights do not fit the model its config describes "
                              f"(first mismatch: {diff[0]}); retrain or restore the checkpoint")
    n_opt = sum(len(g.get("params", ())) for g in opt["param_groups"] if isinstance(g, dict))
    if n_opt != len(list(model.parameters())):
        raise CheckpointError(f"{path}: the optimiser state does not fit the model; retrain or restore it")


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
