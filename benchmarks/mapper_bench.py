"""Mapper benchmark: per-layer time, mapper that ran, proven optimality, fast vs exhaustive, vs Timeloop.

    python benchmarks/mapper_bench.py                                   # resnet18 on the four designs (auto)
    python benchmarks/mapper_bench.py --network resnet50 --accelerator simba-2022 --mapper exhaustive --per-layer
    python benchmarks/mapper_bench.py --compare --network resnet18 --accelerator eyeriss-2022
    python benchmarks/mapper_bench.py --timeloop                        # vs Timeloop's recorded bests (tests/data)

Cold caches (memory and disk) for every network x accelerator; one thread. For
each distinct layer shape it reports the wall time, the mapper that ran, whether
the result is proven optimal, the tilings and mappings the exhaustive mapper
listed and evaluated, and pJ/MAC. ``--compare`` runs both mappers on every
distinct shape and prints the fast mapper's excess energy over the proven
optimum. ``--timeloop`` compares the mapper's energy with Timeloop's best on the
same constrained design for every run in tests/data/timeloop.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from approxdse.accelerators import mapper  # noqa: E402
from approxdse.accelerators.architecture import load_architecture  # noqa: E402
from approxdse.accelerators.model import evaluate  # noqa: E402
from approxdse.accelerators.timeloop_stats import layer_from_problem, read_stats  # noqa: E402
from approxdse.networks import zoo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ("eyeriss", "simba", "eyeriss-2022", "simba-2022")


def _distinct(workload):
    seen, out = set(), []
    for layer in workload:
        key = layer.shape_key()
        if key not in seen:
            seen.add(key)
            out.append(layer)
    return out


def run(network: str, accelerator: str, which: str, per_layer: bool) -> dict:
    arch = load_architecture(accelerator)
    mapper.DISK_CACHE = False
    mapper.clear_cache()
    layers = list(zoo.workload(network))
    t0 = time.perf_counter()
    times, rows, energy = [], [], 0.0
    ran: dict[str, int] = {}
    proven = 0
    for layer in _distinct(layers):
        t = time.perf_counter()
        m, rep = mapper.map_layer_report(layer, arch, mapper=which)
        res = evaluate(layer, arch, m)
        dt = time.perf_counter() - t
        times.append(dt)
        ran[rep.mapper] = ran.get(rep.mapper, 0) + 1
        proven += rep.proven_optimal
        rows.append((layer.name, dt, rep, res.pj_per_mac))
    for layer in layers:  # whole network (repeated shapes hit the cache)
        energy += evaluate(layer, arch, mapper.map_layer(layer, arch, mapper=which)).energy_pJ
    wall = time.perf_counter() - t0
    if per_layer:
        print(f"  {'layer':22s} {'s':>7s} {'mapper':>10s} {'proven':>6s} {'tilings':>9s} {'mappings':>10s} "
              f"{'evaluated':>9s} {'pJ/MAC':>7s}")
        for name, dt, rep, pj in rows:
            print(f"  {name:22s} {dt:7.2f} {rep.mapper:>10s} {str(rep.proven_optimal):>6s} {rep.tilings:9d} "
                  f"{rep.mapspace_size:10d} {rep.evaluated:9d} {pj:7.3f}")
    print(f"{network} on {accelerator} ({which}): {len(rows)} distinct shapes, wall {wall:.1f} s cold; per shape "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; mappers {ran}; proven optimal "
          f"{proven}/{len(rows)}; {energy / 1e6:.2f} uJ", flush=True)
    return {"wall_s": wall, "median_s": statistics.median(times), "max_s": max(times), "energy_uJ": energy / 1e6}


def compare(network: str, accelerator: str) -> None:
    arch = load_architecture(accelerator)
    mapper.DISK_CACHE = False
    mapper.clear_cache()
    excess = []
    for layer in _distinct(zoo.workload(network)):
        t = time.perf_counter()
        ex, rep = mapper.map_layer_report(layer, arch, mapper="exhaustive")
        t_ex = time.perf_counter() - t
        t = time.perf_counter()
        fa = mapper.map_layer(layer, arch, mapper="fast")
        t_fa = time.perf_counter() - t
        e_ex, e_fa = evaluate(layer, arch, ex).energy_pJ, evaluate(layer, arch, fa).energy_pJ
        excess.append(e_fa / e_ex - 1)
        print(f"  {layer.name:22s} exhaustive {t_ex:6.2f} s (proven {rep.proven_optimal}, {rep.evaluated} evaluated)"
              f"  fast {t_fa:5.2f} s  fast/optimum {e_fa / e_ex:.4f}", flush=True)
    excess.sort()
    print(f"{network} on {accelerator}: fast mapper above the optimum on {sum(x > 0.02 for x in excess)}/"
          f"{len(excess)} shapes by > 2 %; median {100 * statistics.median(excess):.2f} %, worst {100 * excess[-1]:.2f} %")


def timeloop() -> None:
    data = ROOT / "tests" / "data" / "timeloop"
    runs = [(p, "simba" if "simba" in p.name else "eyeriss", p / "problem.yaml", p / "timeloop-mapper.stats.txt")
            for p in sorted((data / "our_runs").iterdir())]
    ex = data / "exercises_2022_778460f"
    runs += [(ex / d, f"{d.split('_')[0]}-2022", ex / "AlexNet_layer1.yaml", ex / d / "timeloop-mapper.stats.txt")
             for d in ("eyeriss_like", "simba_like")]
    mapper.DISK_CACHE = False
    for folder, acc, prob, stats in runs:
        arch = load_architecture(acc)
        layer = layer_from_problem(prob, folder.name)
        ref = read_stats(stats).energy_uJ * 1e6
        t = time.perf_counter()
        m, rep = mapper.map_layer_report(layer, arch)
        dt = time.perf_counter() - t
        e = evaluate(layer, arch, m).energy_pJ
        print(f"  {folder.name:36s} {acc:13s} ours/Timeloop {e / ref:.4f}  ({rep.mapper}, proven {rep.proven_optimal},"
              f" {dt:.2f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet18")
    ap.add_argument("--accelerator", help="one design (default: all four)")
    ap.add_argument("--mapper", default="auto", choices=mapper.MAPPERS)
    ap.add_argument("--per-layer", action="store_true")
    ap.add_argument("--compare", action="store_true", help="fast vs exhaustive on every distinct shape")
    ap.add_argument("--timeloop", action="store_true", help="vs Timeloop's recorded bests")
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs", flush=True)
    if args.timeloop:
        timeloop()
        return
    for acc in ([args.accelerator] if args.accelerator else DESIGNS):
        if args.compare:
            compare(args.network, acc)
        else:
            run(args.network, acc, args.mapper, args.per_layer)


if __name__ == "__main__":
    main()
