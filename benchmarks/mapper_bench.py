"""Mapper benchmark: per-layer search time and map-space size, cold cache.

    python benchmarks/mapper_bench.py            # resnet18 on eyeriss, resnet50 on eyeriss and simba
    python benchmarks/mapper_bench.py --quick    # resnet18 on eyeriss only
    python benchmarks/mapper_bench.py --network resnet18 --accelerator simba --per-layer

For each network x accelerator it prints the whole-network wall time (mapping
plus evaluation of every layer, cold mapper cache, one thread), the CPU time,
the number of distinct layer shapes searched, the candidate mappings the
mapper evaluated, the size of the map-space it searches (loop-bound
factorisations over the levels that may hold each dimension, times loop-order
classes per storage level, before capacity and fan-out limits), and the
speed-up over Timeloop's mapper on the same designs (Timeloop v3.0.3 on a
2-core machine: 14-58 s per Eyeriss layer, 83-284 s per Simba layer, from the
shared data's our_runs/*/result.json; the mid-range 30 s and 150 s are used).
"""
from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

TIMELOOP_S_PER_LAYER = {"eyeriss": 30.0, "simba": 150.0}


def _prime_exponents(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        e = 0
        while n % p == 0:
            n //= p
            e += 1
        if e:
            out.append(e)
        p += 1
    if n > 1:
        out.append(1)
    return out


def map_space_size(layer, arch) -> float:
    """Ordered factorisations of every dimension over the levels allowed for it, times loop orders."""
    from approxdse.accelerators.architecture import DIMS, StorageLevel
    from approxdse.accelerators.mapper import ORDER_CLASSES
    from approxdse.accelerators.mapping import layer_dims

    dims = layer_dims(layer)
    total = 1.0
    for d in DIMS:
        slots = sum(1 for lv in arch.levels if lv.fixed().get(d) != 1)
        for e in _prime_exponents(dims[d]):
            total *= math.comb(e + slots - 1, slots - 1)
    n_storage = sum(isinstance(lv, StorageLevel) for lv in arch.levels)
    return total * len(ORDER_CLASSES) ** n_storage


def run(network: str, accelerator: str, per_layer: bool) -> dict:
    from approxdse.networks import zoo
    from approxdse.accelerators.architecture import load_architecture
    from approxdse.accelerators.mapper import clear_cache, map_layer_with_stats
    from approxdse.accelerators.model import evaluate

    workload = zoo.workload(network)
    arch = load_architecture(accelerator)
    clear_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    evaluated, searched, space, energy = 0, 0, 0.0, 0.0
    rows = []
    for layer in workload:
        t = time.perf_counter()
        mapping, n = map_layer_with_stats(layer, arch)
        res = evaluate(layer, arch, mapping)
        dt = time.perf_counter() - t
        energy += res.energy_pJ
        evaluated += n
        if n:
            searched += 1
            space += map_space_size(layer, arch)
        rows.append((layer.name, dt, n, map_space_size(layer, arch), res.pj_per_mac, res.utilization))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if per_layer:
        print(f"  {'layer':24s} {'ms':>8s} {'evaluated':>10s} {'map-space':>10s} {'pJ/MAC':>8s} {'util':>5s}")
        for name, dt, n, sp, pj, ut in rows:
            print(f"  {name:24s} {dt * 1e3:8.1f} {n:10d} {sp:10.2e} {pj:8.2f} {ut:5.2f}")
    tl = TIMELOOP_S_PER_LAYER.get(accelerator, float("nan")) * searched
    print(f"{network} on {accelerator}: {len(workload)} layers ({searched} distinct shapes searched), "
          f"wall {wall:.2f} s, CPU {cpu:.2f} s, {evaluated} mappings evaluated "
          f"(map-space {space:.2e} for the searched shapes), {energy / 1e6:.1f} uJ; "
          f"{wall / max(searched, 1) * 1e3:.0f} ms per searched layer; "
          f"Timeloop's mapper would need ~{tl:.0f} s: {tl / wall:.0f}x")
    return {"wall_s": wall, "cpu_s": cpu, "evaluated": evaluated, "energy_uJ": energy / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="resnet18 on eyeriss only")
    ap.add_argument("--network")
    ap.add_argument("--accelerator")
    ap.add_argument("--per-layer", action="store_true")
    args = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    if args.network or args.accelerator:
        cases = [(args.network or "resnet18", args.accelerator or "eyeriss")]
    elif args.quick:
        cases = [("resnet18", "eyeriss")]
    else:
        cases = [("resnet18", "eyeriss"), ("resnet50", "eyeriss"), ("resnet50", "simba")]
    for net, acc in cases:
        run(net, acc, args.per_layer)


if __name__ == "__main__":
    main()
