"""Energy predictors vs the reference: the seed paper's setting, reproduced in one command.

Pinos, Mrazek, Sekanina (DDECS 2023) compared a summing predictor and ML
predictors with Timeloop/Accelergy on NAS-generated networks and ResNets for
two accelerators, and found the predictors 420-533x faster than the reference.
This script does the same with approxdse's reference model:

1. a dataset (resumable; ``--data``): both accelerators (eyeriss, simba) x
   NAS-generated CIFAR networks and ResNets (generated ResNet-like genomes and the
   zoo's ResNets) x every catalogued multiplier (>= 20);
2. a split by network (25% of the networks of each kind held out, none in both
   train and test);
3. per accelerator: the summing predictor (free form and exact-anchored) and the
   learned predictors (XGBoost, HistGradientBoosting; layer level) fitted on the
   training networks, scored on the held-out networks of each kind;
4. speed: the reference (mapping cache cleared) and each predictor on the same
   held-out networks, in this run, and their ratio.

    python benchmarks/predictors_bench.py            # full (~10 min on 2 busy cores, most of it the dataset)
    python benchmarks/predictors_bench.py --quick    # ~2 min
    python benchmarks/predictors_bench.py --ship     # also write predictors/models/<acc>_<kind>.json

Run with few threads (OMP/XGBoost: 2) so the figures compare across machines.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FULL = {"networks": "nas:150,resnet:40,zoo-resnets", "multipliers": "all", "timed": 20}
QUICK = {"networks": "nas:40,resnet:12,resnet20,resnet32,resnet56", "multipliers": "u8", "timed": 8}


def _multipliers(spec: str) -> str:
    from approxdse import multipliers
    if spec == "u8":
        return ",".join(m for m in multipliers.names() if m.startswith("u8_"))
    return spec


def _kind(name: str) -> str:
    return "nas" if name.startswith("nas") else "resnet"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller dataset (~2 min)")
    ap.add_argument("--data", default=None, help="dataset directory (default out/predictors_bench_{quick,full})")
    ap.add_argument("--accelerators", default="eyeriss,simba")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results here as JSON")
    ap.add_argument("--ship", action="store_true", help="write the fitted models to predictors/models/")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from approxdse.predictors import LearnedPredictor, SummingPredictor
    from approxdse.predictors.compare import error_metrics, per_network_pearson, time_predictor, time_reference
    from approxdse.core.errors import ApproxDSEError
    from approxdse.predictors.dataset import Dataset, generate_dataset

    cfg = QUICK if args.quick else FULL
    data = Path(args.data or ROOT / "out" / f"predictors_bench_{'quick' if args.quick else 'full'}")
    mults = _multipliers(cfg["multipliers"])
    t0 = time.perf_counter()
    try:
        summary = generate_dataset(data, args.accelerators, cfg["networks"], mults, seed=args.seed,
                                   workers=args.workers, progress=True)
    except ApproxDSEError as exc:
        if args.data is not None or "reference" not in str(exc):
            raise
        # the benchmark's own cache under out/ predates a change of the reference: start over
        print(f"regenerating {data}: {exc}")
        shutil.rmtree(data)
        summary = generate_dataset(data, args.accelerators, cfg["networks"], mults, seed=args.seed,
                                   workers=args.workers, progress=True)
    gen_s = time.perf_counter() - t0
    ds = Dataset.load(data)
    n_mult = ds.energy["multiplier"].nunique()
    print(f"dataset {data}: {ds.energy['network'].nunique()} networks x {n_mult} multipliers x "
          f"{len(ds.accelerators)} accelerators = {len(ds.energy)} rows "
          f"({summary.tasks_run} tasks run now in {gen_s:.0f} s)")

    results: dict = {"dataset": str(data), "networks": cfg["networks"], "multipliers": int(n_mult),
                     "rows": int(len(ds.energy)), "accelerators": {}}
    rng = np.random.default_rng(args.seed)
    for acc in args.accelerators.split(","):
        d = ds.for_accelerator(acc)
        names = sorted(d.energy["network"].unique())
        test: set[str] = set()
        for kind in ("nas", "resnet"):
            group = [n for n in names if _kind(n) == kind]
            k = max(1, round(0.25 * len(group)))
            test |= {group[i] for i in rng.permutation(len(group))[:k]}
        train_ds, test_ds = d.subset(set(names) - test), d.subset(test)
        models = {
            "summing (free)": SummingPredictor(form="free"),
            "summing (exact-anchored)": SummingPredictor(form="auto"),
            "xgboost (layer)": LearnedPredictor("xgboost", seed=args.seed),
            "hgb (layer)": LearnedPredictor("hgb", seed=args.seed),
            "xgboost (network)": LearnedPredictor("xgboost", granularity="network", seed=args.seed),
        }
        acc_res: dict = {"train_networks": len(names) - len(test), "test_networks": len(test), "models": {}}
        for label, model in models.items():
            model.fit(train_ds, acc)
            pred = model.predict_dataset(test_ds)
            y = test_ds.energy["total_energy_pJ"].to_numpy()
            nets = test_ds.energy["network"].to_numpy()
            kinds = np.array([_kind(n) for n in nets])
            entry = {"fit_s": model.fit_seconds}
            for kind in ("nas", "resnet"):
                mask = kinds == kind
                m = error_metrics(y[mask], pred[mask])
                pn = per_network_pearson(nets[mask], y[mask], pred[mask])
                m["per_network_pearson_min"] = min(pn) if pn else None
                entry[kind] = m
            acc_res["models"][label] = entry
            if args.ship and label in ("xgboost (layer)", "summing (exact-anchored)"):
                # shipped models are fitted on every network of the dataset
                full = type(model)(**({"form": "auto"} if label.startswith("summing") else {"seed": args.seed}))
                full.fit(d, acc)
                out = ROOT / "predictors" / "models" / f"{acc}_{'summing' if label.startswith('summing') else 'learned'}.json"
                out.parent.mkdir(exist_ok=True)
                full.save(out)
                print(f"shipped {out.relative_to(ROOT)}")
        # speed, same networks, same run: reference with a cold mapping cache vs each predictor
        timed_names = sorted(test)[: cfg["timed"]]
        workloads = [test_ds.workload(n) for n in timed_names]
        ref_s = time_reference(workloads, acc)
        acc_res["speed"] = {"networks": len(workloads), "reference_s": ref_s,
                            "reference_networks_per_s": len(workloads) / ref_s}
        for label in ("summing (free)", "xgboost (layer)", "hgb (layer)", "xgboost (network)"):
            pred_s = time_predictor(models[label], workloads, acc)
            acc_res["speed"][label] = {"predictor_s": pred_s, "networks_per_s": len(workloads) / pred_s,
                                       "speedup": ref_s / pred_s}
        results["accelerators"][acc] = acc_res

    _print(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    return 0


def _print(results: dict) -> None:
    print()
    print(f"rows: {results['rows']}, multipliers: {results['multipliers']}, networks: {results['networks']}")
    for acc, r in results["accelerators"].items():
        print(f"\n### {acc}: {r['train_networks']} training networks, {r['test_networks']} held out")
        print("| predictor | kind | MAPE % | max APE % | Pearson | Spearman | Kendall | top-10% "
              "| per-network Pearson (min) | fit s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, e in r["models"].items():
            for kind in ("nas", "resnet"):
                m = e[kind]
                pn = m["per_network_pearson_min"]
                print(f"| {label} | {kind} | {m['mape_pct']:.3f} | {m['max_ape_pct']:.2f} | {m['pearson']:.5f} | "
                      f"{m['spearman']:.5f} | {m['kendall']:.4f} | {m['top10_agreement'] * 100:.0f}% | "
                      f"{'n/a' if pn is None else f'{pn:.6f}'} | {e['fit_s']:.1f} |")
        s = r["speed"]
        print(f"\nspeed on {s['networks']} held-out networks: reference {s['reference_networks_per_s']:.2f} networks/s "
              f"(mapping cache cleared)")
        for label in ("summing (free)", "xgboost (layer)", "hgb (layer)", "xgboost (network)"):
            v = s[label]
            print(f"  {label:<18} {v['networks_per_s']:10.0f} networks/s  speedup {v['speedup']:8.0f}x")


if __name__ == "__main__":
    sys.exit(main())
