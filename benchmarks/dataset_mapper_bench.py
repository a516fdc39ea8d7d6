"""Does the fast mapper pay for large datasets? ``approxdse dataset --mapper fast`` vs ``auto``.

For each accelerator the same networks are generated twice, once per mapper, each into a new
dataset folder under a fresh ``APPROXDSE_HOME`` (no mapping cached from before; the two
mappers' cache entries never collide). Printed and written as JSON: the seconds each took
(``--workers`` processes), the ratio, and how far the fast reference lies above ``auto``'s per
network (``auto`` starts from the fast search's result, so never above it).

    python benchmarks/dataset_mapper_bench.py [--accelerators eyeriss,simba]
        [--networks nas:40,layers:40,zoo-resnets] [--workers 2] [--json out/dataset_mapper_bench.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HOME = tempfile.mkdtemp(prefix="approxdse-dsbench-")
os.environ["APPROXDSE_HOME"] = HOME  # before approxdse reads it: every mapping is searched afresh
os.environ.setdefault("OMP_NUM_THREADS", "1")

from approxdse.predictors.dataset import Dataset, generate_dataset  # noqa: E402
from approxdse.predictors.reference import EXACT  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)


def run(accelerator: str, networks: str, workers: int) -> dict:
    seconds, totals = {}, {}
    for which in ("fast", "auto"):
        out = Path(HOME) / f"{accelerator}-{which}"
        t0 = time.perf_counter()
        generate_dataset(out, accelerator, networks, EXACT, seed=0, workers=workers, progress=False, mapper=which)
        seconds[which] = time.perf_counter() - t0
        energy = Dataset.load(out).energy
        totals[which] = energy.set_index("network")["total_energy_pJ"]
    above = [100.0 * float(totals["fast"][n] / totals["auto"][n] - 1) for n in totals["auto"].index]
    return {"accelerator": accelerator, "networks": networks, "n_networks": len(above), "workers": workers,
            "seconds": seconds, "auto_over_fast_time": seconds["auto"] / seconds["fast"],
            "fast_above_auto_pct": {"mean": statistics.fmean(above), "median": statistics.median(above),
                                    "max": max(above), "networks_above_0.1pct": int(sum(a > 0.1 for a in above))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerators", default="eyeriss,simba")
    ap.add_argument("--networks", default="nas:40,layers:40,zoo-resnets")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for acc in args.accelerators.split(","):
        r = run(acc, args.networks, args.workers)
        rows.append(r)
        a = r["fast_above_auto_pct"]
        print(f"{acc:13s} {r['n_networks']} networks: fast {r['seconds']['fast']:7.1f} s, auto {r['seconds']['auto']:7.1f} s "
              f"({r['auto_over_fast_time']:.2f}x); fast reference above auto's: mean {a['mean']:.3f} %, "
              f"median {a['median']:.3f} %, max {a['max']:.3f} %, {a['networks_above_0.1pct']} networks > 0.1 %",
              flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"cpu": cpu_model(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
