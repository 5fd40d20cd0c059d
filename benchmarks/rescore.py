"""Re-score saved bundles with today's realism figure and two-sample test, no training.

    python benchmarks/rescore.py --set plants --seed 22 --bundle B1.avae.onnx [--bundle B2 ...]
        [--json benchmarks/results/rescore_plants.json]

Samples each bundle at spread 1 exactly as benchmarks/quality.py's row did (the set's real
reference, the same counts, ``--seed`` the row's seed: the bundle's variants are a pure
function of it) and scores them with ``quality.probe_scores``. For a row trained before a
change to the feature bank (``quality_metrics.FEATURE_BANK``), the row's own JSON holds the
old figure and this script the new one, on the very same variants.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import quality as Q  # noqa: E402
import quality_metrics as qm  # noqa: E402
from common import write_json  # noqa: E402


def variants(bundle: str, real: Q.RealReference, seed: int, samples: int = 32) -> list:
    """Spread-1 variants per class, as quality.py's row makes them (uint8 RGBA, eval size;
    ``samples``: the row's --samples)."""
    from assetvae.plugin_api import Generator

    gen = Generator.load(bundle, device="cpu")
    n = max([samples, Q.MUSHROOM_SAMPLES] + real.counts)
    size = real.images.shape[1]
    return [
        Q.resize_rgba(gen.sample(c, n, spread=1.0, seed=seed), size, real.name == "pixel")
        for c in real.data.classes
    ]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="plants", choices=list(Q.SETS))
    ap.add_argument("--bundle", action="append", required=True, help="repeat for several")
    ap.add_argument("--seed", type=int, required=True, help="the seed of the row that made it")
    ap.add_argument("--data-dir", default="benchmarks/data")
    ap.add_argument("--tuxpaint", default="data/tuxpaint_props")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    bundles = args.bundle
    real = Q.probe_reference(args.set, args.data_dir, args.tuxpaint, args.seed)
    rows = {}
    for b in bundles:
        t0 = time.perf_counter()
        rows[b] = Q.probe_scores(real, variants(b, real, args.seed))
        print(f"{Path(b).name}: {rows[b]} ({time.perf_counter() - t0:.0f} s)", flush=True)
    result = {
        "benchmark": "rescore",
        "feature_bank": qm.FEATURE_BANK,
        "set": args.set,
        "seed": args.seed,
        "rows": rows,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
