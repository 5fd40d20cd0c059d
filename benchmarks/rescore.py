"""Re-score saved bundles with today's realism figure and two-sample test, no training.

    python benchmarks/rescore.py --set plants --seed 22 --bundle B1.avae.onnx [--bundle B2 ...]
        [--json benchmarks/results/rescore_plants.json]

Samples each bundle at spread 1 exactly as benchmarks/quality.py's row did
(``quality.probe_variants``: the set's real reference, the same counts, ``--seed`` the row's
seed, of which the bundle's variants are a pure function) and scores them with
``quality.probe_scores``. For a row trained before a change to the feature bank
(``quality_metrics.FEATURE_BANK``), the row's own JSON holds the old figure and this script
the new one, on the very same variants.
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


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="plants", choices=list(Q.SETS))
    ap.add_argument("--bundle", action="append", required=True, help="repeat for several")
    ap.add_argument("--seed", type=int, required=True, help="the seed of the row that made it")
    ap.add_argument("--data-dir", default="benchmarks/data")
    ap.add_argument("--tuxpaint", default="data/tuxpaint_props")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    from assetvae.plugin_api import Generator

    real = Q.probe_reference(args.set, args.data_dir, args.tuxpaint, args.seed)
    rows = {}
    for b in args.bundle:
        t0 = time.perf_counter()
        gen = Generator.load(b, device="cpu")
        rows[b] = Q.probe_scores(real, Q.probe_variants(gen, real, args.seed))
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
