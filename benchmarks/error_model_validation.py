"""Validate the layer error model against the emulator over the multiplier catalog.

For LeNet-5 and ResNet-8 trained on the bundled digits (offline) -- or any zoo network that
trains on digits (``lstm_digits``, ``gru_digits``), or ``dwsep_digits``, a search-space network
of depthwise-separable blocks (depthwise convs are grouped convs) -- every conv/linear
layer and every approximate catalog multiplier of the networks' signedness (unsigned
and signed, each with its own quantisation), compare the error model's predicted
output-error std (:mod:`approxdse.emulator.error_model`) with the emulated one (the
layer's own input through the multiplier minus through the exact multiplier), on two
calibration batches of 128 training images. Prints a Markdown table (Spearman and
Pearson of log std, median and 5-95 % ratio, times) and writes every row as JSON.

    python benchmarks/error_model_validation.py [--networks lenet5,resnet8] [--formats unsigned,signed]
        [--epochs N] [--out rows.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from approxdse import multipliers
from approxdse.emulator.datasets import load_dataset
from approxdse.emulator.error_model import emulated_layer_error, layer_statistics, predict_layer_error
from approxdse.emulator.training import calibration_batches, emulate, train_float, trained_float_model
from approxdse.networks.genome import BlockGene, Genome, StageGene


#: A network of the search space with depthwise-separable blocks (for grouped convolutions).
DWSEP_DIGITS = Genome((1, 8, 8), 10, (StageGene((BlockGene("dwsep", 16, 3, 1, 2), BlockGene("dwsep", 16, 3, 1, 2))),
                                      StageGene((BlockGene("dwsep", 32, 3, 2, 2),))), stem_channels=16)


def float_model(network: str, data, epochs: int | None):
    if network == "dwsep_digits":
        torch.manual_seed(0)
        model = DWSEP_DIGITS.to_module()
        train_float(model, data, epochs=epochs or 20, lr=0.01, batch_size=64, seed=0)
        return model
    return trained_float_model(network, "digits", data=data, seed=0, epochs=epochs).model


def validate(network: str, signed: bool, data, batches, epochs: int | None = None) -> tuple[list[dict], dict]:
    model = float_model(network, data, epochs)
    exact = "s8_exact" if signed else "u8_exact"
    qmodel = emulate(model, exact, data)
    names = [n for n in multipliers.names()
             if multipliers.get(n).signed == signed and not multipliers.get(n).is_exact]
    t0 = time.perf_counter()
    stats = layer_statistics(qmodel, batches)
    t_stats = time.perf_counter() - t0
    rows, t_pred, t_emul = [], 0.0, 0.0
    for name in names:
        t1 = time.perf_counter()
        preds = {layer: predict_layer_error(st, name) for layer, st in stats.items()}
        t_pred += time.perf_counter() - t1
        t1 = time.perf_counter()
        emulated = emulated_layer_error(qmodel, batches, name, list(stats))
        t_emul += time.perf_counter() - t1
        for layer, pred in preds.items():
            rows.append({"network": network, "signed": signed, "layer": layer, "multiplier": name,
                         "predicted_std": pred.std, "emulated_std": emulated[layer],
                         "predicted_mean": pred.output_mean})
    p = np.array([r["predicted_std"] for r in rows])
    e = np.array([r["emulated_std"] for r in rows])
    keep = (p > 0) & (e > 0)
    ratio = p[keep] / e[keep]
    summary = {"network": network, "format": "signed" if signed else "unsigned", "layers": len(stats),
               "multipliers": len(names), "pairs": len(rows), "spearman": float(spearmanr(p, e).statistic),
               "pearson_log": float(pearsonr(np.log(p[keep]), np.log(e[keep])).statistic),
               "ratio_median": float(np.median(ratio)), "ratio_p05": float(np.percentile(ratio, 5)),
               "ratio_p95": float(np.percentile(ratio, 95)), "stats_s": t_stats, "predict_s": t_pred,
               "emulate_s": t_emul}
    summary["grouped_layers"] = sum(st.groups > 1 for st in stats.values())
    summary["reused_layers"] = sum(st.calls > 1 for st in stats.values())
    return rows, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="lenet5,resnet8")
    ap.add_argument("--formats", default="unsigned,signed", help="number formats to validate (comma-separated)")
    ap.add_argument("--out", default=None, help="write every (layer, multiplier) row here as JSON")
    ap.add_argument("--epochs", type=int, default=None, help="float training epochs (default: the network's)")
    args = ap.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not formats or any(f not in ("unsigned", "signed") for f in formats):
        ap.error(f"--formats: a comma-separated list of 'unsigned' and 'signed', not {args.formats!r}")
    data = load_dataset("digits")
    batches = calibration_batches(data, 2, 128)
    all_rows, summaries = [], []
    for network in [n.strip() for n in args.networks.split(",") if n.strip()]:
        for signed in [f == "signed" for f in formats]:
            rows, summary = validate(network, signed, data, batches, args.epochs)
            all_rows += rows
            summaries.append(summary)
            print(json.dumps(summary), flush=True)
    print(f"\nCPU: {platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}\n")
    print("| network | format | layers (grouped, reused) | multipliers | pairs | Spearman | Pearson (log) | "
          "ratio median | ratio 5-95 % | statistics (s) | model (s) | emulation (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in summaries:
        print(f"| {s['network']} | {s['format']} | {s['layers']} ({s['grouped_layers']}, {s['reused_layers']}) | "
              f"{s['multipliers']} | {s['pairs']} | "
              f"{s['spearman']:.4f} | {s['pearson_log']:.4f} | {s['ratio_median']:.3f} | "
              f"{s['ratio_p05']:.2f}-{s['ratio_p95']:.2f} | {s['stats_s']:.1f} | {s['predict_s']:.2f} | "
              f"{s['emulate_s']:.1f} |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(all_rows, fh, indent=1)


if __name__ == "__main__":
    main()
