"""A run directory and every file in it: checkpoint, config, metrics, class model, latents,
previews. Writes are atomic; loads are safe (weights_only, never pickle).

    run/checkpoint.pt     weights, optimiser state, config, epoch, data fingerprint
    run/config.json       the RunConfig, readable by people
    run/metrics.jsonl     one line per epoch
    run/class_model.json  what each class looks like in latent space (the manifest's records)
    run/latents.npz       posterior means, variances and labels of the training images
    run/frame_latents.npz the same of every animation frame, with its animation (sheets only)
    run/previews/         sheets written while training and by fit-classes / latent-map
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import RunConfig
from .errors import CheckpointError, ConfigError
from .model import VAE, migrate_state_dict
from .plugin_api.errors import BundleError
from .plugin_api.fileio import atomic_path, atomic_write_text
from .plugin_api.manifest import ClassLatent, class_from_dict, class_to_dict

FORMAT = "assetvae-checkpoint"
VERSION = 2  # 2: block-structured module names (v1 weights are renamed on load)


class RunDir:
    """Owns the layout of one run directory; nothing else names its files."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    config_file = property(lambda self: self.path / "config.json")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    class_model_file = property(lambda self: self.path / "class_model.json")
    latents_file = property(lambda self: self.path / "latents.npz")
    frame_latents_file = property(lambda self: self.path / "frame_latents.npz")
    previews = property(lambda self: self.path / "previews")

    # --- checkpoint -----------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write the checkpoint atomically: a crash leaves the previous one intact."""
        state = {"format": FORMAT, "version": VERSION, **state}
        with atomic_path(self.checkpoint) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self, for_resume: bool = True) -> dict[str, Any]:
        """The checkpoint, validated; state["config"] is a RunConfig and state["model"] holds
        this version's weight names. for_resume also demands the optimiser state."""
        path = self.checkpoint
        if not self.path.is_dir():
            raise CheckpointError(
                f"{self.path}: no such run directory; give the --out folder of `assetvae train`"
            )
        if not path.is_file():
            raise CheckpointError(
                f"{path}: no checkpoint in this run directory; train first "
                f"(assetvae train DATA --out {self.path})"
            )
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path}: empty file (0 bytes), the checkpoint is lost; retrain")
        state = _safe_load(path)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not an assetvae checkpoint")
        version = state.get("version", 0)
        if not isinstance(version, int) or version > VERSION:
            raise CheckpointError(
                f"{path}: written by a newer assetvae (checkpoint v{version}); upgrade assetvae"
            )
        try:
            state["config"] = RunConfig.from_dict(state["config"])
            state["config"].validate()
        except (KeyError, TypeError, AttributeError, ConfigError) as e:
            raise CheckpointError(
                f"{path}: checkpoint has no valid config ({e}); retrain"
            ) from None
        _check_contents(state, path, for_resume)
        return state

    def clean_temporaries(self) -> None:
        """Remove temporaries of a write that a crash cut short."""
        for stale in self.path.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)

    # --- config and metrics ---------------------------------------------------------------
    def write_config(self, cfg: RunConfig) -> None:
        atomic_write_text(self.config_file, json.dumps(cfg.to_dict(), indent=2) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_file.exists():
            return []
        rows = []
        for line in self.metrics_file.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                break  # a torn last line from a crash: everything after it is unusable
        return rows

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Rewrite the whole metrics file atomically (it is small), so resume can cut it back."""
        atomic_write_text(self.metrics_file, "".join(json.dumps(r) + "\n" for r in rows))

    # --- class model and latents ----------------------------------------------------------
    def write_class_model(self, classes: list[ClassLatent]) -> None:
        """The manifest's own class records, so export validates them the same way."""
        rows = [class_to_dict(c) for c in classes]
        atomic_write_text(self.class_model_file, json.dumps(rows, allow_nan=False) + "\n")

    def read_class_model(self, latent_dim: int) -> list[ClassLatent]:
        """class_model.json, validated by the manifest's own class parser."""
        path = self.class_model_file
        if not path.is_file():
            raise CheckpointError(
                f"{path}: missing; the run has not finished (assetvae train --resume {self.path})"
            )
        try:
            rows = json.loads(path.read_text(), parse_constant=_no_constant)
            if not isinstance(rows, list) or not rows:
                raise ValueError("no classes")
            return [class_from_dict(r, latent_dim, i) for i, r in enumerate(rows)]
        except (ValueError, BundleError) as e:
            # The manifest parser's wording speaks of bundles; here the file is a run's.
            why = (
                str(e).removeprefix("bad bundle manifest: ").removesuffix("; re-export the bundle")
            )
            raise CheckpointError(
                f"{path}: damaged class model ({why}); run assetvae fit-classes {self.path}"
            ) from None

    def write_latents(
        self, means: np.ndarray, variances: np.ndarray, labels: np.ndarray, names: list[str]
    ) -> None:
        with atomic_path(self.latents_file) as tmp, open(tmp, "wb") as f:
            np.savez(f, means=means, variances=variances, labels=labels, names=np.array(names, str))

    def read_latents(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """(means, variances, labels, class names) of the training images, as the last fit
        saw them."""
        path = self.latents_file
        if not path.is_file():
            raise CheckpointError(
                f"{path}: missing; the run has not finished (assetvae train --resume {self.path})"
            )
        try:
            with np.load(path, allow_pickle=False) as z:
                if "names" in z:
                    names = [str(n) for n in z["names"]]
                else:  # written before names were kept: the class model has them in order
                    names = [c.name for c in self.read_class_model(z["means"].shape[1])]
                return z["means"], z["variances"], z["labels"], names
        except (ValueError, KeyError, OSError) as e:
            raise CheckpointError(
                f"{path}: damaged ({e}); run assetvae train --resume {self.path}"
            ) from None

    def write_frame_latents(self, means: np.ndarray, labels: np.ndarray, refs: list) -> None:
        """Posterior means of the animation frames, their labels and FrameRefs (as columns)."""
        with atomic_path(self.frame_latents_file) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                means=means,
                labels=labels,
                instance=np.array([r.instance for r in refs], str),
                animation=np.array([r.animation for r in refs], str),
                index=np.array([r.index for r in refs], np.int64),
                duration_ms=np.array([r.duration_ms for r in refs], np.int64),
                direction=np.array([r.direction for r in refs], str),
            )

    def read_frame_latents(self):
        """(means, labels, [FrameRef]) of the animation frames, or None for a run on stills."""
        from .datasets.sheets import FrameRef

        path = self.frame_latents_file
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                refs = [
                    FrameRef(str(i), str(a), int(k), int(d), str(r))
                    for i, a, k, d, r in zip(
                        z["instance"], z["animation"], z["index"], z["duration_ms"], z["direction"]
                    )
                ]
                return z["means"], z["labels"], refs
        except (ValueError, KeyError, OSError) as e:
            raise CheckpointError(
                f"{path}: damaged ({e}); run assetvae train --resume {self.path}"
            ) from None


def load_model(
    run_dir: str | Path | RunDir, device: str | torch.device = "cpu"
) -> tuple[VAE, RunConfig]:
    """The run's model (eval mode) and its config, from the weights alone."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    state = run.load_checkpoint(for_resume=False)
    model = VAE(state["config"].model)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state["config"]


def _no_constant(name: str):
    raise ValueError(f"{name} in the file")


def _safe_load(path: Path) -> Any:
    try:
        with (
            warnings.catch_warnings()
        ):  # torch's pickle-protocol chatter is not the user's business
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refused something. Never pass on torch's advice to retry with
        # weights_only=False: a file that imports code must not be loaded at all.
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found:
            raise CheckpointError(
                f"{path}: refused to load: it asks to run Python code ({found.group(1)}), which an "
                "assetvae checkpoint never does; do not trust this file, "
                "retrain or restore your own"
            ) from None
        raise CheckpointError(
            f"{path}: damaged or not an assetvae checkpoint (the safe loader "
            "refused its contents; nothing in it was run); retrain or restore it"
        ) from None
    except Exception as e:  # torch raises many types for damaged zips
        text = str(e).strip()
        first = text.splitlines()[0].split(". ")[0][:160] if text else e.__class__.__name__
        raise CheckpointError(
            f"{path}: damaged or not an assetvae checkpoint ({first}); retrain or restore it"
        ) from None


def _shapes(weights: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Each tensor's name and shape: what a model's weights must match."""
    return {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}


def _check_contents(state: dict[str, Any], path: Path, for_resume: bool) -> None:
    """The weights must be the ones the config's model has, name for name and shape for shape."""
    epoch, weights = state.get("epoch"), state.get("model")
    if not (
        isinstance(epoch, int)
        and epoch >= 0
        and isinstance(weights, dict)
        and isinstance(state.get("dataset_fingerprint"), str)
    ):
        raise CheckpointError(
            f"{path}: incomplete checkpoint (epoch, weights or data fingerprint "
            "missing); retrain or restore it"
        )
    with torch.device("meta"):  # shapes only, no memory
        model = VAE(state["config"].model)
    weights = state["model"] = migrate_state_dict(model, weights)
    want = _shapes(model.state_dict())
    got = _shapes(weights)
    if got != want:
        diff = sorted(set(want) ^ set(got)) or sorted(k for k in want if want[k] != got[k])
        raise CheckpointError(
            f"{path}: the weights do not fit the model its config describes "
            f"(first mismatch: {diff[0]}); retrain or restore the checkpoint"
        )
    if not for_resume:
        return
    live = state.get("live_model")  # the live weights of a run that keeps a moving average
    if live is not None and (not isinstance(live, dict) or _shapes(live) != want):
        raise CheckpointError(
            f"{path}: the live weights do not fit the model its config describes; retrain or "
            "restore the checkpoint"
        )
    opt = state.get("optimizer")
    if not (isinstance(opt, dict) and isinstance(opt.get("param_groups"), list)):
        raise CheckpointError(
            f"{path}: no optimiser state, so training cannot resume from it; retrain or restore it"
        )
    n_opt = sum(len(g.get("params", ())) for g in opt["param_groups"] if isinstance(g, dict))
    if n_opt != len(list(model.parameters())):
        raise CheckpointError(
            f"{path}: the optimiser state does not fit the model; retrain or restore it"
        )


def reconstruct_with_run(run_dir: str | Path):
    """(image size, restore): restore maps uint8 [N, S, S, 4] sprites to the run's
    reconstructions (posterior means, decoded)."""
    from .model import to_tensor, to_uint8

    model, cfg = load_model(run_dir)

    @torch.no_grad()
    def restore(images: np.ndarray) -> np.ndarray:
        return to_uint8(model.decode_display(model.encoder.from_display(to_tensor(images)).mean))

    return model.display_size, restore


def load_checkpoint(run_dir: str | Path) -> dict[str, Any]:
    """RunDir(run_dir).load_checkpoint(): the full, validated state a resume starts from."""
    return RunDir(run_dir).load_checkpoint()
