"""Energy predictors vs the reference: generated networks, and real families never seen in training.

Pinos, Mrazek, Sekanina (DDECS 2023) compared a summing predictor and ML
predictors with Timeloop/Accelergy on NAS-generated networks and ResNets for
two accelerators, and found the predictors 420-533x faster than the reference.
This script does the same with approxdse's reference model, and then asks the
harder question a search over real architectures asks:

1. a dataset (resumable; ``--data``): both accelerators (eyeriss, simba) x
   NAS-generated networks (CIFAR, ImageNet and digits presets), ResNet-like
   genomes, random layer shapes (``layers:N``, :mod:`approxdse.networks.layer_sampler`)
   and every zoo network (:func:`approxdse.networks.zoo.families`: ResNet,
   ResNeXt, VGG, AlexNet, MobileNetV2/V3, EfficientNet, ShuffleNetV2,
   SqueezeNet, DenseNet, RegNetY, ConvNeXt, ...) x every catalogued multiplier;
2. **generated split**: 25% of the generated networks of each kind (nas,
   resnet) held out; the summing and learned predictors fitted on the rest;
3. **leave-one-family-out**: for each zoo family, the learned predictor
   (XGBoost, layer level, 90% intervals) is fitted on every other network
   (generated, random layers, the other families) and scored on the held-out
   family's networks x multipliers: MAPE per network (mean and max), Spearman
   over all held-out rows, the share of held-out networks (and rows) whose
   reference energy lies inside the 90% interval, and how many were flagged out
   of domain. Beside it, as baselines on the same folds: the summing predictor
   (free form) and the learned predictor trained on generated genomes only
   (nas, resnet: what was shipped before the families and the sampler);
4. speed: the reference (mapping cache cleared) and the predictors on the same
   held-out zoo networks, in this run, and their ratio;
5. ``--ship``: the default models (``predictors/models/<acc>_{summing,learned}.json``)
   fitted on every network of the dataset. After any change of the reference
   (``accelerators/``), the single command that regenerates the dataset and
   re-ships is::

       python benchmarks/predictors_bench.py --ship --workers 2

   (the dataset under ``out/`` is regenerated when its reference is stale).

    python benchmarks/predictors_bench.py            # full (~30 min on 2 busy cores, most of it the dataset)
    python benchmarks/predictors_bench.py --quick    # a few minutes
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
# OpenMP threads that spin while waiting collapse on a shared machine (an XGBoost fit measured
# 12x slower with 2 spinning threads at load average 6 on 2 cores): let them sleep.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

ROOT = Path(__file__).resolve().parents[1]
FULL = {"networks": "nas:150,resnet:40,zoo-resnets,layers:500,nas-imagenet:30,zoo,nas-digits:40",
        "multipliers": "all", "timed": 20}
QUICK = {"networks": "nas:40,resnet:12,resnet20,resnet32,resnet56,layers:24,zoo", "multipliers": "u8", "timed": 8}
#: Multipliers of the leave-one-family-out rows (a spread of energies; every row of a network
#: shares the layer model's error, so more multipliers add little).
LOFO_MULTIPLIERS = ("u8_exact", "u8_bam_h2_v6", "u8_trunc_2", "u8_drum_4", "u8_mitchell")
GENERATED = ("nas", "resnet")
LEVEL = 0.9


def _multipliers(spec: str) -> str:
    from approxdse import multipliers
    if spec == "u8":
        return ",".join(m for m in multipliers.names() if m.startswith("u8_"))
    return spec


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _kinds(d) -> dict[str, str]:
    """network -> its kind in the dataset (nas, resnet, layers, zoo)."""
    return dict(zip(d.networks["network"], d.networks["network_kind"]))


def _generated_split(d, acc: str, rng, seed: int) -> dict:
    """Section 2: 25% of each generated kind held out; predictors fitted on everything else."""
    from approxdse.networks import zoo
    from approxdse.predictors import LearnedPredictor, SummingPredictor
    from approxdse.predictors.compare import error_metrics, per_network_pearson

    kinds = _kinds(d)
    names = sorted(d.energy["network"].unique())
    test: set[str] = set()
    for kind in GENERATED:
        group = [n for n in names if kinds.get(n) == kind and not zoo.has(n)]  # zoo networks: section 3
        if not group:
            continue
        k = max(1, round(0.25 * len(group)))
        test |= {group[i] for i in rng.permutation(len(group))[:k]}
    train_ds, test_ds = d.subset(set(names) - test), d.subset(test)
    models = {
        "summing (free)": SummingPredictor(form="free"),
        "summing (exact-anchored)": SummingPredictor(form="auto"),
        "xgboost (layer)": LearnedPredictor("xgboost", seed=seed, interval_folds=0),
        "hgb (layer)": LearnedPredictor("hgb", seed=seed, interval_folds=0),
        "xgboost (network)": LearnedPredictor("xgboost", granularity="network", seed=seed, interval_folds=0),
    }
    res: dict = {"train_networks": len(names) - len(test), "test_networks": len(test), "models": {}}
    y = test_ds.energy["total_energy_pJ"].to_numpy()
    nets = test_ds.energy["network"].to_numpy()
    kind_of = np.array([kinds[n] for n in nets])
    for label, model in models.items():
        model.fit(train_ds, acc)
        pred = model.predict_dataset(test_ds)
        entry = {"fit_s": model.fit_seconds}
        for kind in GENERATED:
            mask = kind_of == kind
            if not mask.any():
                continue
            m = error_metrics(y[mask], pred[mask])
            pn = per_network_pearson(nets[mask], y[mask], pred[mask])
            m["per_network_pearson_min"] = min(pn) if pn else None
            entry[kind] = m
        res["models"][label] = entry
    res["_fitted"] = models
    res["_test_names"] = sorted(test)
    return res


def _per_network(nets: np.ndarray, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    ape = np.abs(p - y) / y * 100
    return {n: float(ape[nets == n].mean()) for n in dict.fromkeys(nets)}


def _lofo(d, acc: str, seed: int, folds: int) -> dict:
    """Section 3: leave one zoo family out at a time."""
    from scipy import stats

    from approxdse.networks import zoo
    from approxdse.predictors import LearnedPredictor, SummingPredictor

    kinds = _kinds(d)
    present = set(d.energy["network"])
    fams = {f: [n for n in ns if n in present] for f, ns in zoo.families().items()}
    fams = {f: ns for f, ns in fams.items() if ns}
    mults = [m for m in LOFO_MULTIPLIERS if m in set(d.energy["multiplier"])]
    generated_only = {n for n in present if kinds.get(n) in GENERATED and not zoo.has(n)}
    out: dict = {"families": {}, "multipliers": mults}
    rows = {"learned": [], "summing (free)": [], "learned, generated genomes only": []}
    coverage_nets, coverage_rows, flagged = [], [], []
    for fam, held in sorted(fams.items()):
        train = d.subset(present - set(held))
        test = d.subset(held)
        test.energy = test.energy[test.energy["multiplier"].isin(mults)].reset_index(drop=True)
        y = test.energy["total_energy_pJ"].to_numpy()
        nets = test.energy["network"].to_numpy()
        learned = LearnedPredictor("xgboost", seed=seed, interval_folds=folds).fit(train, acc)
        wl = [test.workload(n) for n in nets]
        iv = learned.predict_interval(wl, list(test.energy["multiplier"]), acc, LEVEL)
        summing = SummingPredictor(form="free").fit(train, acc)
        gen = LearnedPredictor("xgboost", seed=seed, interval_folds=0).fit(d.subset(generated_only - set(held)), acc)
        preds = {"learned": iv.energy, "summing (free)": summing.predict_dataset(test),
                 "learned, generated genomes only": gen.predict_dataset(test)}
        inside = (iv.low <= y) & (y <= iv.high)
        exact = test.energy["multiplier"].to_numpy() == "u8_exact"
        entry = {"networks": held, "fit_s": learned.fit_seconds,
                 "coverage_rows": float(inside.mean()), "out_of_domain_networks": int(len(set(nets[iv.out_of_domain]))),
                 "median_relative_width": float(np.median(iv.relative_width))}
        for label, p in preds.items():
            per = _per_network(nets, y, p)
            entry[label] = {"per_network_mape": per, "mape_mean": float(np.mean(list(per.values()))),
                            "mape_max": float(max(per.values()))}
            rows[label] += list(zip(nets, y, p))
        for n in held:
            m = (nets == n) & exact
            coverage_nets.append(bool(inside[m].all()))
            flagged.append(bool(iv.out_of_domain[m].any()))
        coverage_rows += list(inside)
        out["families"][fam] = entry
        print(f"  [{acc}] held out {fam}: learned MAPE mean {entry['learned']['mape_mean']:.2f}% "
              f"max {entry['learned']['mape_max']:.2f}%, interval covers {inside.mean() * 100:.0f}% of rows, "
              f"{entry['out_of_domain_networks']} out of domain ({learned.fit_seconds:.0f} s fit)", flush=True)
        out.setdefault("_models", {})[fam] = learned
    for label, r in rows.items():
        nets = np.array([a for a, _, _ in r])
        y = np.array([b for _, b, _ in r])
        p = np.array([c for _, _, c in r])
        per = _per_network(nets, y, p)
        out[label] = {"networks": len(per), "rows": len(r), "mape_mean": float(np.mean(list(per.values()))),
                      "mape_max": float(max(per.values())), "worst": max(per, key=per.get),
                      "spearman": float(stats.spearmanr(y, p)[0]), "pearson": float(stats.pearsonr(y, p)[0])}
    out["coverage_networks"] = float(np.mean(coverage_nets))
    out["coverage_rows"] = float(np.mean(coverage_rows))
    out["out_of_domain_networks"] = int(sum(flagged))
    out["held_out_networks"] = len(coverage_nets)
    return out


def _speed(d, acc: str, lofo: dict, split: dict, timed: int) -> dict:
    """Section 4: reference (cold mapping cache) vs predictors on held-out zoo networks, this run."""
    from approxdse.predictors.compare import time_predictor, time_reference

    fams = lofo["families"]
    names = [fams[f]["networks"][0] for f in sorted(fams)][:timed]
    workloads = [d.workload(n) for n in names]
    ref_s = time_reference(workloads, acc)
    out = {"networks": names, "reference_s": ref_s, "reference_networks_per_s": len(workloads) / ref_s}
    model = next(iter(lofo["_models"].values()))  # any fold's model: same size as the shipped one
    for label, pred in (("xgboost (layer)", model), ("summing (free)", split["_fitted"]["summing (free)"]),
                        ("hgb (layer)", split["_fitted"]["hgb (layer)"])):
        pred_s = time_predictor(pred, workloads, acc)
        out[label] = {"predictor_s": pred_s, "networks_per_s": len(workloads) / pred_s, "speedup": ref_s / pred_s}
    # one network at a time, as energy --predictor answers (interval and domain check included)
    t0 = time.perf_counter()
    for w in workloads:
        model.predict_interval(w, "u8_exact", acc, LEVEL)
    one = (time.perf_counter() - t0) / len(workloads)
    out["xgboost (layer), one network per call, with interval"] = {
        "predictor_s": one * len(workloads), "networks_per_s": 1 / one, "speedup": ref_s / len(workloads) / one}
    return out


def _generate(data: Path, args, cfg) -> tuple:
    from approxdse.core.errors import ApproxDSEError
    from approxdse.predictors.dataset import generate_dataset

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
    return summary, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller dataset (a few minutes)")
    ap.add_argument("--data", default=None, help="dataset directory (default out/predictors_bench_{quick,full})")
    ap.add_argument("--accelerators", default="eyeriss,simba")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5, help="interval folds of the learned predictor (default 5)")
    ap.add_argument("--json", default=None, help="also write the results here as JSON")
    ap.add_argument("--ship", action="store_true", help="write the fitted models to predictors/models/")
    ap.add_argument("--skip-lofo", action="store_true", help="only the generated split (and --ship)")
    ap.add_argument("--networks", default=None, help="dataset network spec instead of the preset's")
    ap.add_argument("--multipliers", default=None, help="dataset multipliers instead of the preset's")
    ap.add_argument("--timed", type=int, default=None, help="networks timed against the reference")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from approxdse.accelerators.reference_version import reference_version
    from approxdse.predictors import LearnedPredictor, SummingPredictor
    from approxdse.predictors.dataset import Dataset

    cfg = dict(QUICK if args.quick else FULL)
    for key in ("networks", "multipliers", "timed"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    data = Path(args.data or ROOT / "out" / f"predictors_bench_{'quick' if args.quick else 'full'}")
    load_start = _load()
    summary, gen_s = _generate(data, args, cfg)
    ds = Dataset.load(data)
    n_mult = ds.energy["multiplier"].nunique()
    print(f"dataset {data}: {ds.energy['network'].nunique()} networks x {n_mult} multipliers x "
          f"{len(ds.accelerators)} accelerators = {len(ds.energy)} rows "
          f"({summary.tasks_run} tasks run now in {gen_s:.0f} s)")

    results: dict = {"dataset": str(data), "networks": cfg["networks"], "multipliers": int(n_mult),
                     "rows": int(len(ds.energy)), "reference": reference_version(), "cpu": cpu_model(),
                     "cores": os.cpu_count(), "load_at_start": load_start, "accelerators": {}}
    rng = np.random.default_rng(args.seed)
    for acc in args.accelerators.split(","):
        d = ds.for_accelerator(acc)
        t0 = time.perf_counter()
        acc_res: dict = {"split": _generated_split(d, acc, rng, args.seed)}
        if not args.skip_lofo:
            acc_res["lofo"] = _lofo(d, acc, args.seed, args.folds)
            acc_res["speed"] = _speed(d, acc, acc_res["lofo"], acc_res["split"], cfg["timed"])
        acc_res["seconds"] = time.perf_counter() - t0
        if args.ship:
            for kind, model in (("summing", SummingPredictor(form="auto")),
                                ("learned", LearnedPredictor(seed=args.seed, interval_folds=args.folds))):
                model.fit(d, acc)  # shipped models are fitted on every network of the dataset
                out = ROOT / "predictors" / "models" / f"{acc}_{kind}.json"
                out.parent.mkdir(exist_ok=True)
                model.save(out)
                print(f"shipped {out.relative_to(ROOT)}")
        results["accelerators"][acc] = acc_res
    results["load_at_end"] = _load()

    _print(results)
    if args.json:
        Path(args.json).write_text(json.dumps(_public(results), indent=1, default=float))
    return 0


def _public(obj):
    """Results without the fitted models (keys starting with '_')."""
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [_public(v) for v in obj]
    return obj


def _print(results: dict) -> None:
    print()
    print(f"rows: {results['rows']}, multipliers: {results['multipliers']}, networks: {results['networks']}")
    print(f"reference: {results['reference']}; CPU: {results['cpu']} ({results['cores']} cores); "
          f"load average at start {results['load_at_start']}, at end {results['load_at_end']}")
    for acc, r in results["accelerators"].items():
        s = r["split"]
        print(f"\n### {acc}: generated split, {s['train_networks']} training networks, {s['test_networks']} held out")
        print("| predictor | kind | MAPE % | max APE % | Pearson | Spearman | Kendall | top-10% "
              "| per-network Pearson (min) | fit s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, e in s["models"].items():
            for kind in GENERATED:
                if kind not in e:
                    continue
                m = e[kind]
                pn = m["per_network_pearson_min"]
                print(f"| {label} | {kind} | {m['mape_pct']:.3f} | {m['max_ape_pct']:.2f} | {m['pearson']:.5f} | "
                      f"{m['spearman']:.5f} | {m['kendall']:.4f} | {m['top10_agreement'] * 100:.0f}% | "
                      f"{'n/a' if pn is None else f'{pn:.6f}'} | {e['fit_s']:.1f} |")
        if "lofo" not in r:
            continue
        lo = r["lofo"]
        print(f"\n### {acc}: leave one family out ({lo['held_out_networks']} held-out networks x "
              f"{len(lo['multipliers'])} multipliers)")
        print("| held-out family | networks | learned MAPE % mean / max | 90% interval covers (rows) "
              "| median width % | out of domain | summing (free) MAPE % | learned, genomes only MAPE % |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for fam, e in lo["families"].items():
            le = e["learned"]
            print(f"| {fam} | {len(e['networks'])} | {le['mape_mean']:.2f} / {le['mape_max']:.2f} | "
                  f"{e['coverage_rows'] * 100:.0f}% | {e['median_relative_width'] * 100:.1f} | "
                  f"{e['out_of_domain_networks']} | {e['summing (free)']['mape_mean']:.1f} | "
                  f"{e['learned, generated genomes only']['mape_mean']:.2f} |")
        for label in ("learned", "summing (free)", "learned, generated genomes only"):
            v = lo[label]
            print(f"  {label:<32} MAPE per network mean {v['mape_mean']:.3f} %, max {v['mape_max']:.2f} % "
                  f"({v['worst']}), Spearman {v['spearman']:.5f}, Pearson {v['pearson']:.5f}")
        print(f"  90% intervals cover {lo['coverage_networks'] * 100:.1f}% of held-out networks (exact multiplier), "
              f"{lo['coverage_rows'] * 100:.1f}% of rows; {lo['out_of_domain_networks']} networks flagged out of domain")
        sp = r["speed"]
        print(f"\n  speed on {len(sp['networks'])} held-out zoo networks: reference "
              f"{sp['reference_networks_per_s']:.3f} networks/s (mapping cache cleared)")
        for label, v in sp.items():
            if isinstance(v, dict):
                print(f"    {label:<52} {v['networks_per_s']:10.1f} networks/s  speedup {v['speedup']:8.0f}x")
        print(f"  ({r['seconds']:.0f} s for this accelerator's fits and scoring)")


if __name__ == "__main__":
    sys.exit(main())
