"""The exhaustive mapper's steps and time per zoo layer: how ``auto``'s step budget was chosen.

    python benchmarks/auto_budget_bench.py --design eyeriss --out out/budget_eyeriss.jsonl
    python benchmarks/auto_budget_bench.py --summary out/budget_*.jsonl
    python benchmarks/auto_budget_bench.py --budget-check out/budget_*.jsonl
    python benchmarks/auto_budget_bench.py --auto imperfect --design simba --out out/auto_simba.jsonl
    python benchmarks/auto_budget_bench.py --auto-summary out/auto_*.jsonl

For every distinct layer shape of the zoo networks below whose tiling bound is at most
``--max-bound``, the exhaustive mapper runs without a budget (or up to ``--cap`` steps; cold caches, one thread) and
one JSON line records the design, the layer, its tiling bound, the branch and bound's steps,
the seconds and the energy; the fast search's energy beside it. Lines already in ``--out``
are skipped, so a killed run resumes. ``--summary`` prints, for candidate budgets, how many
layers would finish inside the budget (proven optimal) and the longest time among them;
``--budget-check`` runs ``auto`` on the layers that need more steps than its budget and prints
how far its result is above the optimum. ``--auto F`` runs ``map_layer_report`` as users get it
(``mapper="auto"``, factorisation ``F``, cold caches) on every distinct layer, whatever its
tiling bound, and records the seconds, whether the result is proven optimal, the steps and
the energy; ``--auto-summary`` prints per design the median and longest time and the proven count.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from approxdse.accelerators import mapper, mapspace  # noqa: E402
from approxdse.accelerators.architecture import load_architecture  # noqa: E402
from approxdse.accelerators.nest_analysis import Problem  # noqa: E402
from approxdse.networks import zoo  # noqa: E402

NETWORKS = ("resnet18", "resnet50", "vgg16", "alexnet", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
            "shufflenet_v2", "squeezenet1_0", "densenet121", "regnet_y_400mf", "resnext50_32x4d", "convnext_tiny",
            "resnet20", "lenet5")
BUDGETS = (1_000_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000, 20_000_000)


def _shapes(arch) -> list[tuple[str, Problem]]:
    seen, out = set(), []
    for net in NETWORKS:
        for layer in zoo.workload(net):
            prob = Problem.from_layer(layer)
            key = (prob.dims, prob.stride_h, prob.stride_w, prob.dilation_h, prob.dilation_w)
            if key not in seen:
                seen.add(key)
                out.append((f"{net}/{layer.name}", prob))
    return out


def _recorded(out: Path) -> set[str]:
    """The layers ``out`` already has a line for (a killed run resumes after them); creates its folder."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file():
        return set()
    return {json.loads(line)["layer"] for line in out.read_text().splitlines() if line.strip()}


def measure(design: str, out: Path, max_bound: float, min_bound: float, cap: int) -> None:
    arch = load_architecture(design)
    mapper.DISK_CACHE = False
    done = _recorded(out)
    for name, prob in _shapes(arch):
        bound = mapspace.tiling_bound(prob, arch)
        if name in done or not (min_bound <= bound <= max_bound):
            continue
        t = time.perf_counter()
        try:
            best, rep = mapper._exhaustive_search(prob, arch, "energy", budget=cap)
        except mapper.ApproxDSEError as e:
            print(f"{name}: {e}", flush=True)
            continue
        dt = time.perf_counter() - t
        fast, _ = mapper._fast_search(prob, arch, "energy")
        keep = {lv.name: lv.keep for lv in arch.storage_levels}
        e_fast = mapper._cost(prob, arch, *fast.to_arrays(arch), keep, "energy")[0]
        e_best = mapper._cost(prob, arch, *best.to_arrays(arch), keep, "energy")[0]
        row = {"design": design, "layer": name, "tiling_bound": int(bound), "steps": rep.steps, "seconds": dt,
               "complete": rep.proven_optimal,
               "energy_pJ": e_best, "fast_energy_pJ": e_fast}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{design} {name:40s} bound {bound:9.3g} steps {rep.steps:11,d} {dt:7.2f} s "
              f"fast +{100 * (e_fast / e_best - 1):.2f} %{'' if rep.proven_optimal else ' (stopped at --cap)'}",
              flush=True)


def measure_auto(design: str, out: Path, factorization: str) -> None:
    arch = load_architecture(design)
    mapper.DISK_CACHE = False
    done = _recorded(out)
    keep = {lv.name: lv.keep for lv in arch.storage_levels}
    for name, prob in _shapes(arch):
        if name in done:
            continue
        mapper.clear_cache()
        t = time.perf_counter()
        try:
            m, rep = mapper._map_problem(prob, arch, "energy", "auto", factorization)
        except mapper.ApproxDSEError as e:
            print(f"{name}: {e}", flush=True)
            continue
        dt = time.perf_counter() - t
        e = float(mapper._cost(prob, arch, *m.to_arrays(arch), keep, "energy")[0])
        row = {"design": design, "layer": name, "factorization": factorization,
               "tiling_bound": int(mapspace.tiling_bound(prob, arch)), "seconds": dt,
               "proven": rep.proven_optimal, "budget_exhausted": rep.budget_exhausted, "steps": rep.steps,
               "energy_pJ": e}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{design} {name:40s} {dt:6.2f} s {'proven' if rep.proven_optimal else 'not proven'} "
              f"steps {rep.steps:10,d}", flush=True)


def auto_summary(paths: list[Path]) -> None:
    rows = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    for key in sorted({(r["design"], r["factorization"]) for r in rows}):
        rs = [r for r in rows if (r["design"], r["factorization"]) == key]
        secs = [r["seconds"] for r in rs]
        slow = max(rs, key=lambda r: r["seconds"])
        print(f"{key[0]} ({key[1]}): {len(rs)} layers, seconds median {statistics.median(secs):.2f}, "
              f"max {max(secs):.2f} ({slow['layer']}), total {sum(secs):.1f}; "
              f"proven optimal {sum(r['proven'] for r in rs)}, budget exhausted "
              f"{sum(r['budget_exhausted'] for r in rs)}")


def summary(paths: list[Path]) -> None:
    rows = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    for design in sorted({r["design"] for r in rows}):
        rs = [r for r in rows if r["design"] == design]
        rate = statistics.median(r["steps"] / r["seconds"] for r in rs if r["seconds"] > 0.2)
        print(f"{design}: {len(rs)} layers, steps median {statistics.median(r['steps'] for r in rs):,.0f}, "
              f"max {max(r['steps'] for r in rs):,}; seconds median {statistics.median(r['seconds'] for r in rs):.2f}, "
              f"max {max(r['seconds'] for r in rs):.2f}; median rate {rate:,.0f} steps/s")
        for b in BUDGETS:
            inside = [r for r in rs if r["steps"] <= b and r.get("complete", True)]
            worst = max((r["seconds"] for r in inside), default=0.0)
            print(f"  budget {b:>11,}: {len(inside):4d}/{len(rs)} finish (longest {worst:.2f} s)")


def budget_check(paths: list[Path]) -> None:
    """``auto`` (its budget) on every measured layer that needs more steps than the budget."""
    rows = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    mapper.DISK_CACHE = False
    for design in sorted({r["design"] for r in rows}):
        arch = load_architecture(design)
        shapes = dict(_shapes(arch))
        keep = {lv.name: lv.keep for lv in arch.storage_levels}
        over = [r for r in rows if r["design"] == design and r["steps"] > mapper.AUTO_STEP_BUDGET]
        excess, times = [], []
        for r in over:
            prob = shapes[r["layer"]]
            t = time.perf_counter()
            m, rep = mapper._exact_search(prob, arch, "energy", "auto")
            dt = time.perf_counter() - t
            e = mapper._cost(prob, arch, *m.to_arrays(arch), keep, "energy")[0]
            ref = r["energy_pJ"]
            excess.append(100 * (e / ref - 1))
            times.append(dt)
            print(f"{design} {r['layer']:40s} {rep.mapper:10s} steps {rep.steps:10,d} {dt:6.2f} s  +{excess[-1]:.3f} % "
                  f"over the {'optimum' if r.get('complete', True) else 'capped search'} "
                  f"(fast +{100 * (r['fast_energy_pJ'] / ref - 1):.2f} %)", flush=True)
        if over:
            print(f"{design}: {len(over)} layers over the budget of {mapper.AUTO_STEP_BUDGET:,} steps: auto "
                  f"+{statistics.mean(excess):.3f} % mean / +{max(excess):.3f} % max, {max(times):.2f} s max", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="eyeriss")
    ap.add_argument("--out", type=Path, default=Path("out/auto_budget.jsonl"))
    ap.add_argument("--max-bound", type=float, default=2e8)
    ap.add_argument("--min-bound", type=float, default=0)
    ap.add_argument("--cap", type=int, default=0, help="stop a layer's search after this many steps (0: never)")
    ap.add_argument("--summary", nargs="*", type=Path)
    ap.add_argument("--budget-check", nargs="*", type=Path,
                    help="run auto on the layers of these files that need more than its step budget")
    ap.add_argument("--auto", choices=mapper.FACTORIZATIONS,
                    help="time auto as users run it (this factorisation) on every distinct layer")
    ap.add_argument("--auto-summary", nargs="*", type=Path)
    a = ap.parse_args()
    if a.auto_summary:
        auto_summary(a.auto_summary)
    elif a.auto:
        measure_auto(a.design, a.out, a.auto)
    elif a.summary:
        summary(a.summary)
    elif a.budget_check:
        budget_check(a.budget_check)
    else:
        measure(a.design, a.out, a.max_bound, a.min_bound, a.cap)


if __name__ == "__main__":
    main()
