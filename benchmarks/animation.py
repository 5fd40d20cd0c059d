"""Do animated variants keep their identity while they move? Measured on real game sprites.

    python benchmarks/animation.py                      # build the set, train 5 min at 32 px
    python benchmarks/animation.py --run RUN --bundle B # measure an existing run / bundle
    python benchmarks/animation.py --smoke              # a 1-minute run on a third of the set

The set is benchmarks/data/animated_props.sh's (pingus strips with .sprite files, freedroid
droid atlases with atlas.txt; 5 classes). Distances are the mean absolute difference of two
sprites composited over mid-grey, in levels of 0..255 (what a player sees).

Per (class, animation) with at least two training instances (the same animation drawn for
different props: the droids' walk and attack in four directions, ...), over its frames:

- within: mean distance between two frames of one animation (one real prop, or one variant);
- between: mean distance between the same frame of two different props (real) or of two
  variants (generated);
- identity ratio = within / between: how much a prop changes while it moves, against how
  much props differ from each other. Real animations set the target. Near 1 would mean the
  "animation" changes into another prop as it plays;
- motion: mean distance between consecutive frames of one animation (real, and generated);
  the ratio generated / real says how much of the real motion survives.

Reference rows: `recon` (the real animations encoded and decoded: the motion this model can
show at all, blur included) and `independent` (each frame of a variant drawn with its own
key, as if frames were independent stills: what holding one identity saves us from).
Writes benchmarks/results/animation.json and frame strips + APNG/GIF previews in the run's
previews/ folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import machine, write_json  # noqa: E402

SCRIPT = ROOT / "benchmarks" / "data" / "animated_props.sh"
VARIANTS = 8
SEED = 0


def over_grey(images: np.ndarray) -> np.ndarray:
    """uint8 RGBA [..., H, W, 4] -> float RGB over mid-grey, 0..255."""
    a = images[..., 3:4].astype(np.float64) / 255.0
    return images[..., :3].astype(np.float64) * a + 128.0 * (1.0 - a)


def dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(over_grey(a) - over_grey(b)).mean())


def within(clip: np.ndarray) -> float:
    """Mean distance between every two frames of one clip [F, H, W, 4]."""
    f = len(clip)
    return float(np.mean([dist(clip[i], clip[j]) for i in range(f) for j in range(i + 1, f)]))


def motion(clip: np.ndarray) -> float:
    return float(np.mean([dist(clip[i], clip[i + 1]) for i in range(len(clip) - 1)]))


def between(clips: list[np.ndarray]) -> float:
    """Mean distance between the same frame of two different clips."""
    f = min(len(c) for c in clips)
    return float(
        np.mean(
            [
                dist(clips[i][k], clips[j][k])
                for k in range(f)
                for i in range(len(clips))
                for j in range(i + 1, len(clips))
            ]
        )
    )


def row(clips: list[np.ndarray]) -> dict:
    w = float(np.mean([within(c) for c in clips]))
    b = between(clips)
    return {
        "within": round(w, 2),
        "between": round(b, 2),
        "identity_ratio": round(w / b, 3),
        "motion": round(float(np.mean([motion(c) for c in clips])), 2),
        "clips": len(clips),
    }


def real_clips(data, cls: int) -> dict[str, list[np.ndarray]]:
    """Per animation name of class cls, each instance's frames (uint8 [F, S, S, 4])."""
    out: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for i, (lab, ref) in enumerate(zip(data.labels, data.frames)):
        if lab == cls and ref is not None:
            out.setdefault(ref.animation, {}).setdefault(ref.instance, []).append((ref.index, i))
    return {
        a: [data.images[[i for _, i in sorted(v)]] for v in insts.values()]
        for a, insts in out.items()
    }


def build(data: Path) -> None:
    if not data.exists():
        subprocess.run(["bash", str(SCRIPT), str(data)], check=True)


def train_run(data: Path, run: Path, minutes: float, size: int, seed: int) -> None:
    from assetvae.config import ModelConfig, RunConfig, TrainConfig
    from assetvae.train import train

    cfg = RunConfig(
        data=str(data),
        model=ModelConfig(image_size=size),
        train=TrainConfig(epochs=200, time_budget_s=minutes * 60, seed=seed, preview_every=0),
    )
    train(cfg, run, progress=False, log=print)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data" / "animated_props")
    ap.add_argument("--run", type=Path, default=ROOT / "out" / "animation" / "run")
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="1 minute, 16 px, no JSON")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "animation.json"))
    args = ap.parse_args()
    if args.smoke:
        args.minutes, args.size = 1.0, 16
        args.run = args.run.with_name("run_smoke")
        args.json = None
    from assetvae.datasets.folder import LoadOptions
    from assetvae.datasets.sheets import load_dataset
    from assetvae.export.bundle import export_bundle
    from assetvae.plugin_api import Generator
    from assetvae.plugin_api.animated import write_animation_preview
    from assetvae.rundir import RunDir, reconstruct_with_run

    build(args.data)
    t0 = time.perf_counter()
    if not (args.run / "class_model.json").exists():
        train_run(args.data, args.run, args.minutes, args.size, args.seed)
    train_s = time.perf_counter() - t0
    bundle = args.bundle or args.run.with_name(args.run.name + ".avae.onnx")
    if not bundle.exists():
        export_bundle(args.run, bundle)
    cfg = RunDir(args.run).load_checkpoint(for_resume=False)["config"]
    size = cfg.model.image_size * cfg.model.output_scale
    with warnings.catch_warnings():  # the training run has reported the sheets' problems
        warnings.simplefilter("ignore")
        data = load_dataset(
            args.data, LoadOptions(size, cfg.train.pixel_art, cfg.train.crop), use_cache=False
        )
    _, restore = reconstruct_with_run(args.run)

    rows, summary = [], {}
    with Generator.load(bundle, device="cpu") as gen:
        for ci, cls in enumerate(data.classes):
            for anim, clips in sorted(real_clips(data, ci).items()):
                if anim not in gen.animations(cls):
                    continue
                f = gen.animation_info(cls, anim)["frames"]
                real = [c[(np.arange(f) * len(c)) // f] for c in clips]  # the model's frame count
                variants = list(gen.animation(cls, anim, range(VARIANTS), seed=SEED))
                keys = [f"{k}/{i}" for k in range(VARIANTS) for i in range(f)]  # a key per frame
                loose = gen.animation(cls, anim, keys, seed=SEED)
                loose = loose.reshape(VARIANTS, f, *loose.shape[1:])
                independent = [loose[k, np.arange(f), np.arange(f)] for k in range(VARIANTS)]
                recon = [restore(c) for c in real]
                r = {
                    "class": cls,
                    "animation": anim,
                    "frames": f,
                    "instances": len(clips),
                    "generated": row(variants),
                    "independent": row(independent),
                    "recon": row(recon) if len(recon) > 1 else None,
                    "real": row(real) if len(real) > 1 else None,
                }
                r["real_motion"] = round(float(np.mean([motion(c) for c in real])), 2)
                r["recon_motion"] = round(float(np.mean([motion(c) for c in recon])), 2)
                rows.append(r)
        previews = {}
        for cls in data.classes:
            anims = gen.animations(cls)
            if anims:
                pick = max(anims, key=lambda a: len(gen.animation_info(cls, a)["sources"]))
                done = write_animation_preview(
                    gen, args.run / "previews" / f"anim_{cls}.png", pick, [cls], 6, seed=SEED
                )
                previews[cls] = [str(p) for p in done.paths]

    def mean(key: str, sub: str, where=lambda r: True) -> float | None:
        vals = [r[key][sub] for r in rows if r.get(key) and where(r)]
        return round(float(np.mean(vals)), 3) if vals else None

    matched = lambda r: r["real"] is not None  # noqa: E731
    kinds = ("real", "recon", "generated", "independent")
    for cls in data.classes:
        own = [r for r in rows if r["class"] == cls]
        if not own:
            continue
        summary[cls] = {
            "animations": len(own),
            "identity_ratio": {
                k: mean(k, "identity_ratio", lambda r, c=cls: r["class"] == c and matched(r))
                for k in kinds
            },
            "motion": {
                "real": round(float(np.mean([r["real_motion"] for r in own])), 2),
                "recon": round(float(np.mean([r["recon_motion"] for r in own])), 2),
                "generated": round(float(np.mean([r["generated"]["motion"] for r in own])), 2),
            },
        }

    def motion_ratio(ref: str) -> float:
        return round(float(np.mean([r["generated"]["motion"] / r[ref] for r in rows])), 3)

    overall = {
        "identity_ratio": {k: mean(k, "identity_ratio", matched) for k in kinds},
        "motion_generated_over_real": motion_ratio("real_motion"),
        "motion_generated_over_recon": motion_ratio("recon_motion"),
        "animations": len(rows),
        "matched_animations": sum(map(matched, rows)),
    }
    result = {
        "benchmark": "animation",
        "data": str(args.data),
        "images": int(len(data.images)),
        "classes": data.counts(),
        "image_size": size,
        "train_minutes": args.minutes,
        "train_s": round(train_s, 1),
        "variants": VARIANTS,
        "seed": SEED,
        "overall": overall,
        "per_class": summary,
        "rows": rows,
        "previews": previews,
        "machine": machine(),
    }
    print(
        f"identity ratio (within / between; lower = identity held): real "
        f"{overall['identity_ratio']['real']}, recon {overall['identity_ratio']['recon']}, "
        f"generated {overall['identity_ratio']['generated']}, independent frames "
        f"{overall['identity_ratio']['independent']}"
    )
    print(
        f"motion, generated / real: {overall['motion_generated_over_real']}, generated / recon: "
        f"{overall['motion_generated_over_recon']}"
    )
    write_json(args.json, result)


if __name__ == "__main__":
    main()
