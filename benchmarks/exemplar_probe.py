"""Probe: how far from their exemplars should variants stray? Trained runs, each class model
refitted at several exemplar scales, the variants scored at spread 1.

    python benchmarks/exemplar_probe.py --set pixel --run RUN_DIR [--run RUN_DIR ...]
        [--scales off,0,0.1,0.25,0.5,1] [--json J]

The exemplar scale is a sampling setting, not a training one (for art trained without sampled
fakes): the class model is refitted from each run's saved latents (what ``assetvae fit-classes``
does, on a copy), so the rows of one run share one decoder and differ only in how variants are
drawn. Training noise, which moves a 10-minute row's two-sample figure by a few hundredths
between runs of one seed, does not enter. Each run is scored against the split of its own
training seed (a quality.py row's run directory: ``OUT/SET/TAG/run``), with quality.py's
``score_samples`` at spread 1: realism, the two-sample test, novelty (copies score near 0),
diversity, class consistency and colour truth. ``off`` is the class Gaussian; scale 0 draws the
exemplars' own decodes, the copy end of the dial. The last table is the mean over the runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import quality as Q  # noqa: E402
from common import machine, write_json  # noqa: E402

DEFAULT_SCALES = "off,0,0.1,0.25,0.5,1"


def parse_scales(text: str) -> list[float | None]:
    return [None if s == "off" else float(s) for s in text.split(",")]


def label(scale: float | None) -> str:
    return "off" if scale is None else f"{scale:g}"


def score_scale(run_dir: Path, scale: float | None, real, seed: int, work: Path) -> dict:
    """The run's variants at spread 1 with its classes refitted at this scale, scored."""
    from assetvae.classes import refit_classes
    from assetvae.export.bundle import export_bundle
    from assetvae.plugin_api import Generator
    from assetvae.rundir import RunDir

    copy = work / f"run-{label(scale)}"
    shutil.copytree(run_dir, copy)
    components = (
        1 if scale is not None else RunDir(copy).load_checkpoint(False)["config"].train.components
    )
    refit_classes(copy, components, scale)
    bundle = work / f"{label(scale)}.avae.onnx"
    export_bundle(copy, bundle)
    gen = Generator.load(bundle, device="cpu")
    per_class = Q.probe_variants(gen, real, seed)
    s = Q.score_samples(real, {1.0: per_class})
    shutil.rmtree(copy)
    return {
        "realism": s["realism"]["1"],
        "two_sample": s["two_sample"]["accuracy"],
        "blocks": s["two_sample"].get("blocks"),
        "novelty": s["novelty"]["1"],
        "diversity": s["diversity"]["1"]["mean"],
        "consistency": s["consistency"]["ratio"],
        "colour_truth": s["colour_truth"]["mean"],
    }


COLUMNS = ("realism", "two_sample", "novelty", "diversity", "consistency", "colour_truth")


def print_rows(title: str, rows: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(f"{'scale':>6s} " + " ".join(f"{c:>12s}" for c in COLUMNS))
    for k, r in rows.items():
        print(f"{k:>6s} " + " ".join(f"{Q.fmt(r[c]):>12s}" for c in COLUMNS))


def main(argv: list[str] | None = None) -> dict:
    from assetvae.rundir import RunDir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="pixel", choices=list(Q.SETS))
    ap.add_argument("--run", action="append", required=True, type=Path)
    ap.add_argument("--scales", default=DEFAULT_SCALES)
    ap.add_argument("--data-dir", default="benchmarks/data")
    ap.add_argument("--tuxpaint", default="data/tuxpaint_props")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    scales = parse_scales(args.scales)

    refs, runs = {}, {}
    for run_dir in args.run:
        cfg = RunDir(run_dir).load_checkpoint(False)["config"]
        seed = cfg.train.seed
        if seed not in refs:  # the real reference, split as that run's quality.py row split it
            refs[seed] = Q.probe_reference(args.set, args.data_dir, args.tuxpaint, seed)
        rows = {}
        with tempfile.TemporaryDirectory() as tmp:
            for scale in scales:
                t0 = time.perf_counter()
                rows[label(scale)] = score_scale(run_dir, scale, refs[seed], seed, Path(tmp))
                print(
                    f"{run_dir} {label(scale)}: {rows[label(scale)]} "
                    f"({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
        runs[str(run_dir)] = {"seed": seed, "trained_scale": cfg.train.exemplar_scale, "rows": rows}
        print_rows(f"{run_dir} (seed {seed})", rows)

    mean = {
        label(s): {
            c: round(float(np.mean([r["rows"][label(s)][c] for r in runs.values()])), 4)
            for c in COLUMNS
        }
        for s in scales
    }
    print_rows(f"mean over {len(runs)} run(s)", mean)
    result = {
        "benchmark": "exemplar_probe",
        "set": args.set,
        "scales": [label(s) for s in scales],
        "machine": machine(),
        "code": Q.code_version(),
        "runs": runs,
        "mean": mean,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
