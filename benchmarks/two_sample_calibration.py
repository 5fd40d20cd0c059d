"""What the two-sample test sees: real art against itself, changed in known ways.

    python benchmarks/two_sample_calibration.py [--sets plants,pixel,tuxpaint]
        [--metrics OTHER/quality_metrics.py] [--json benchmarks/results/two_sample_calibration.json]

For each set, real half A against half B as it is, wobbled by up to +-1, +-2 and +-4 levels in
255 on every visible pixel's colour and alpha (``quality_metrics.invisible_wobble``, one draw
per art pixel), and blurred by a Gaussian of 0.3 and 0.5 px. A test fit to judge art should
score the first three near 0.5 (no one sees them) and the blurs high. Beside it, the realism
figure (patch-SWD ratio, ``quality.py``'s headline) of half A changed the same ways.

``--metrics`` scores the two-sample test with another copy of the metrics module, e.g. an
earlier feature bank from git (``git show f37088f:benchmarks/quality_metrics.py >
/tmp/bank2.py``); the changes are always made by today's.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).parent))
import quality as Q  # noqa: E402
import quality_metrics as qm  # noqa: E402
from common import write_json  # noqa: E402


def gaussian_blur(images: np.ndarray, radius: float) -> np.ndarray:
    """Pillow's Gaussian blur of each uint8 RGBA image (straight alpha, as Pillow has it)."""
    return np.stack(
        [
            np.asarray(Image.fromarray(x, "RGBA").filter(ImageFilter.GaussianBlur(radius)))
            for x in images
        ]
    )


CHANGES = {
    "as is": lambda x: x,
    "+-1 level": lambda x: qm.invisible_wobble(x, 1, seed=1),
    "+-2 levels": lambda x: qm.invisible_wobble(x, 2, seed=2),
    "+-4 levels": lambda x: qm.invisible_wobble(x, 4, seed=4),
    "blur 0.3 px": lambda x: gaussian_blur(x, 0.3),
    "blur 0.5 px": lambda x: gaussian_blur(x, 0.5),
}


def load_metrics(path: str | None):
    if path is None:
        return qm
    spec = importlib.util.spec_from_file_location("metrics_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="plants,pixel,tuxpaint")
    ap.add_argument("--metrics", help="score with this quality_metrics.py instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default="benchmarks/data")
    ap.add_argument("--tuxpaint", default="data/tuxpaint_props")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    judge = load_metrics(args.metrics)
    out = {}
    for name in args.sets.split(","):
        real = Q.probe_reference(name, args.data_dir, args.tuxpaint, args.seed)
        a, b = real.images[real.half_a], real.images[real.half_b]
        out[name] = {}
        for label, change in CHANGES.items():
            t = judge.two_sample_test(a, change(b))
            r = real.swd.realism(change(a))  # against half B, as a row's samples are
            out[name][label] = {
                "accuracy": round(t["accuracy"], 3),
                "blocks": {k: round(v, 3) for k, v in t["blocks"].items()},
                "realism": round(r["realism"], 3),
                "swd_ratio": [round(v, 2) for v in r["ratio"]],
            }
            print(f"{name:9s} {label:12s} {out[name][label]}", flush=True)
    result = {
        "benchmark": "two_sample_calibration",
        "feature_bank": getattr(judge, "FEATURE_BANK", 2),
        "metrics": args.metrics or "benchmarks/quality_metrics.py",
        "sets": out,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
