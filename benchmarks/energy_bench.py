"""Whole-network reference energy: wall time with a cold mapper cache.

Each case runs in a fresh Python process (so every cache is cold): the imports
happen first, then the timer brackets ``estimate_energy(network, accelerator)``
alone. In the same process the benchmark then measures a warm re-run (every
layer's mapping cached) and swapping the multiplier (no new search).

Goals (issue 3, 2 cores): resnet18 on eyeriss <= 1 s, resnet50 on eyeriss and on
simba <= 5 s, cold cache. Reference tools on a 2-core machine, as recorded in
``../shared/data/timeloop`` (not measured here): Timeloop's mapper 14-58 s per
layer on Eyeriss and 83-284 s per layer on Simba; ZigZag ~101 s for ResNet-18.

    python benchmarks/energy_bench.py            # the three goal cases (~1 min)
    python benchmarks/energy_bench.py --quick    # resnet18 on eyeriss only
    python benchmarks/energy_bench.py --case mobilenet_v2:simba --json out.json
    python benchmarks/energy_bench.py --quick --per-layer   # each distinct layer's search time
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

GOALS = {("resnet18", "eyeriss"): 1.0, ("resnet50", "eyeriss"): 5.0, ("resnet50", "simba"): 5.0}
TIMELOOP_S_PER_LAYER = {"eyeriss": (14, 58), "simba": (83, 284)}  # recorded, 2 cores (see docstring)

_CHILD = r"""
import json, sys, time
from approxdse.accelerators.estimate import estimate_energy
from approxdse import accelerators, multipliers
import approxdse.accelerators.architecture, approxdse.accelerators.mapper, approxdse.accelerators.model
network, accelerator = sys.argv[1], sys.argv[2]
multipliers.get("exact"); accelerators.architecture.load_architecture(accelerator)
t0 = time.perf_counter()
report = estimate_energy(network, accelerator, "exact")
cold = time.perf_counter() - t0
t0 = time.perf_counter()
estimate_energy(network, accelerator, "exact")
warm = time.perf_counter() - t0
t0 = time.perf_counter()
swapped = estimate_energy(network, accelerator, 0.5)
swap = time.perf_counter() - t0
per_layer = []
if sys.argv[4] == "1":  # each distinct shape's search alone, cold
    from approxdse.networks import zoo
    accelerators.mapper.clear_cache()
    arch = accelerators.architecture.load_architecture(accelerator)
    for layers in zoo.workload(network).unique_shapes().values():
        t0 = time.perf_counter()
        _, n = accelerators.mapper.map_layer_with_stats(layers[0], arch)
        per_layer.append([layers[0].name, layers[0].describe(), len(layers), time.perf_counter() - t0, n])
print(json.dumps({"per_layer": per_layer, "cold_s": cold, "warm_s": warm, "swap_s": swap, "layers": len(report.layers),
                  "distinct": report.extra.get("distinct_shapes"), "energy_uJ": report.energy_uJ,
                  "pJ_per_mac": report.pJ_per_mac, "swap_saving": 1 - swapped.energy_pJ / report.energy_pJ,
                  "mappings": report.extra.get("mappings_evaluated")}))
"""


def run_case(network: str, accelerator: str, threads: int, per_layer: bool = False) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD, network, accelerator, str(threads), "1" if per_layer else "0"],
                         capture_output=True, text=True, env=env)
    total = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{network} on {accelerator} failed:\n{out.stderr.strip()}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(network=network, accelerator=accelerator, process_s=total)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="resnet18 on eyeriss only")
    parser.add_argument("--case", action="append", metavar="NETWORK:ACCELERATOR", help="run this case instead")
    parser.add_argument("--threads", type=int, default=2, help="OpenMP/BLAS threads in the child (default 2)")
    parser.add_argument("--per-layer", action="store_true",
                        help="also time each distinct layer shape's search alone (cold)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.case:
        cases = [tuple(c.split(":", 1)) for c in args.case]
    elif args.quick:
        cases = [("resnet18", "eyeriss")]
    else:
        cases = list(GOALS)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores visible, {args.threads} threads per case; "
          "each case in a fresh process (cold caches)")
    header = (f"{'network':<13}{'accelerator':<14}{'layers':>7}{'distinct':>9}{'cold s':>9}{'goal s':>8}"
              f"{'ms/layer':>10}{'warm s':>9}{'swap s':>9}{'mappings':>12}{'uJ':>11}{'pJ/MAC':>8}")
    print(header)
    results = []
    for network, accelerator in cases:
        r = run_case(network, accelerator, args.threads, args.per_layer)
        results.append(r)
        goal = GOALS.get((network, accelerator))
        explored = r.get("mappings")
        r["ms_per_distinct_layer"] = 1000 * r["cold_s"] / max(1, r["distinct"] or r["layers"])
        print(f"{network:<13}{accelerator:<14}{r['layers']:>7}{r['distinct']:>9}{r['cold_s']:>9.3f}"
              f"{(f'{goal:.1f}' if goal else '-'):>8}{r['ms_per_distinct_layer']:>10.1f}{r['warm_s']:>9.4f}"
              f"{r['swap_s']:>9.4f}{(f'{explored:,}' if explored else '-'):>12}{r['energy_uJ']:>11.1f}"
              f"{r['pJ_per_mac']:>8.3f}")
    print()
    for r in results:
        goal = GOALS.get((r["network"], r["accelerator"]))
        lo, hi = TIMELOOP_S_PER_LAYER.get(r["accelerator"].split("-")[0], (None, None))
        parts = [f"{r['network']} on {r['accelerator']}:"]
        if goal:
            parts.append(f"cold {r['cold_s']:.3f} s = {r['cold_s'] / goal:.2f}x the {goal:.0f} s goal "
                         f"({'met' if r['cold_s'] <= goal else 'MISSED'});")
        parts.append(f"warm re-run {r['cold_s'] / max(r['warm_s'], 1e-9):.0f}x faster than cold;")
        parts.append(f"multiplier swap {r['swap_s'] * 1000:.1f} ms (saving {r['swap_saving'] * 100:.1f}% at 0.5x "
                     f"multiplier energy);")
        if lo:
            per_layer = r["cold_s"] / max(1, r["distinct"] or r["layers"])
            parts.append(f"per distinct layer {per_layer * 1000:.1f} ms vs Timeloop's recorded {lo}-{hi} s "
                         f"(~{lo / per_layer:,.0f}-{hi / per_layer:,.0f}x)")
        if r.get("mappings"):
            parts.append(f"; {r['mappings']:,} candidate mappings evaluated "
                         f"({r['mappings'] / max(1, r['distinct']):,.0f} per distinct layer)")
        print(" ".join(parts))
    for r in results:
        if r.get("per_layer"):
            print(f"\n{r['network']} on {r['accelerator']}: each distinct layer's search alone (cold)")
            print(f"{'layer':<22}{'shape':<32}{'x':>3}{'ms':>9}{'mappings':>10}")
            for name, shape, count, secs, n in r["per_layer"]:
                print(f"{name:<22}{shape:<32}{count:>3}{secs * 1000:>9.1f}{n:>10,}")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(results, fh, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
