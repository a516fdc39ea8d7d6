"""Imperfect factorisation: what partial last tiles save, what the padded search costs, how close it gets.

Two parts, both cold (no mapping cache):

* ``zoo``: networks x designs, ``estimate_energy`` with ``factorization="exact"`` and
  ``"imperfect"`` (``--mapper``, default ``auto``): total energy, saving, the layers whose
  result runs a partial tile, the best single-layer saving, and wall time of each.
* ``brute``: small layers of a small design (``tests/accelerators/test_mapper_imperfect.py``'s
  ``SMALL`` and its brute force over every imperfect mapping): the exact optimum, the true
  imperfect optimum and what the padded search finds (not proven optimal: the gap is how far
  it stays above the true optimum).

    python benchmarks/imperfect_bench.py [--part zoo|brute|all] [--networks a,b] [--designs a,b]
                                         [--mapper auto|exhaustive|fast] [--json FILE]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

from approxdse.accelerators import mapper  # noqa: E402
from approxdse.accelerators.architecture import load_architecture, parse_architecture  # noqa: E402
from approxdse.accelerators.estimate import clear_cache, estimate_energy  # noqa: E402
from approxdse.accelerators.model import evaluate  # noqa: E402
from approxdse.networks.workload import Layer  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ("shufflenet_v2", "efficientnet_b0", "regnet_y_400mf", "mobilenet_v3_large", "resnet18")
DESIGNS = ("eyeriss", "simba", "eyeriss-2022", "simba-2022")
BRUTE_LAYERS = (
    Layer("b1", C=3, M=5, P=2, Q=1, R=1, S=1), Layer("b2", C=5, M=3, P=1, Q=2, R=2, S=1),
    Layer("b3", C=7, M=2, P=2, Q=1, R=1, S=1), Layer("b4", C=5, M=5, P=1, Q=1, R=1, S=1),
    Layer("b5", C=3, M=7, P=1, Q=2, R=1, S=1), Layer("b6", C=6, M=5, P=1, Q=1, R=1, S=1),
)


def zoo(networks, designs, which: str) -> list[dict]:
    rows = []
    for net in networks:
        for design in designs:
            out = {"network": net, "design": design}
            for fac in ("exact", "imperfect"):
                clear_cache()
                t0 = time.perf_counter()
                rep = estimate_energy(net, design, mapper=which, factorization=fac)
                out[f"{fac}_s"] = time.perf_counter() - t0
                out[f"{fac}_uJ"] = rep.energy_uJ
                out[f"{fac}_cycles"] = rep.cycles
                out[f"{fac}_layers"] = {r.name: r.energy_pJ for r in rep.layers}
                if fac == "imperfect":
                    out["padded_layers"] = sum(1 for s in rep.extra["mappers"].values() if s.get("padded"))
                    out["layers"] = len(rep.layers)
            out["saving_pct"] = 100 * (1 - out["imperfect_uJ"] / out["exact_uJ"])
            out["best_layer_saving_pct"] = max(
                100 * (1 - out["imperfect_layers"][k] / out["exact_layers"][k]) for k in out["exact_layers"])
            del out["exact_layers"], out["imperfect_layers"]
            rows.append(out)
            print(f"{net:20s} {design:13s} exact {out['exact_uJ']:10.2f} uJ ({out['exact_s']:6.1f} s)  imperfect "
                  f"{out['imperfect_uJ']:10.2f} uJ ({out['imperfect_s']:6.1f} s)  saving {out['saving_pct']:5.1f} %  "
                  f"best layer {out['best_layer_saving_pct']:5.1f} %  partial-tile layers "
                  f"{out['padded_layers']}/{out['layers']}", flush=True)
    return rows


def brute() -> list[dict]:
    spec = importlib.util.spec_from_file_location(
        "imperfect_tests", ROOT / "tests" / "accelerators" / "test_mapper_imperfect.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    arch = parse_architecture(mod.SMALL)
    rows = []
    for layer in BRUTE_LAYERS:
        t0 = time.perf_counter()
        exact_opt = mod.brute_force_energy(layer, arch, imperfect=False)
        imp_opt = mod.brute_force_energy(layer, arch, imperfect=True)
        brute_s = time.perf_counter() - t0
        mapper.clear_cache()
        t0 = time.perf_counter()
        m, rep = mapper.map_layer_report(layer, arch, mapper="exhaustive", factorization="imperfect")
        got = evaluate(layer, arch, m).energy_pJ
        rows.append({"layer": layer.name, "dims": f"C={layer.C} M={layer.M} P={layer.P} Q={layer.Q} R={layer.R}",
                     "exact_opt_pJ": exact_opt, "imperfect_opt_pJ": imp_opt, "search_pJ": got,
                     "gap_pct": 100 * (got / imp_opt - 1), "true_saving_pct": 100 * (1 - imp_opt / exact_opt),
                     "search_saving_pct": 100 * (1 - got / exact_opt), "search_s": time.perf_counter() - t0,
                     "brute_s": brute_s, "padded": rep.padded})
        r = rows[-1]
        print(f"{r['layer']} {r['dims']:24s} exact opt {exact_opt:9.1f}  imperfect opt {imp_opt:9.1f} "
              f"(-{r['true_saving_pct']:4.1f} %)  search {got:9.1f} (-{r['search_saving_pct']:4.1f} %, "
              f"gap {r['gap_pct']:5.2f} %)  padded {rep.padded}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("zoo", "brute", "all"), default="all")
    ap.add_argument("--networks", default=",".join(NETWORKS))
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--mapper", choices=mapper.MAPPERS, default="auto")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    mapper.DISK_CACHE = False
    for d in args.designs.split(","):
        load_architecture(d)  # fail early on a wrong name
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    doc = {"cpu": cpu_model(), "cores": os.cpu_count()}
    if args.part in ("brute", "all"):
        doc["brute"] = brute()
    if args.part in ("zoo", "all"):
        doc["zoo"] = zoo(args.networks.split(","), args.designs.split(","), args.mapper)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
