#!/usr/bin/env python
"""Benchmark of the multiplier library (issue 2 targets), one command:

    python benchmarks/multipliers_bench.py [--repeat N]

Measures, in one run on this machine:
* LUT generation + all error metrics for one multiplier (target <= 50 ms);
* the same for the whole built-in catalog, no caches (target <= 2 s);
* ``multipliers.catalog()`` (YAML load + DataFrame);
* importing an EvoApproxLib-style C model: first time (compiles) and cached (target <= 5 ms).
Prints each timing with its ratio to the target (< 1 means within target).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

C_MODEL = """// PDK45_PWR = 0.300 mW
#include <stdint.h>
uint64_t mul8u_BENCH(const uint64_t B, const uint64_t A)
{
  uint64_t O = 0;
  for (int j = 2; j < 8; j++)           /* broken array: rows below 2 dropped */
    for (int i = 0; i < 8; i++)
      if (i + j >= 6) O += (((B >> i) & 1) & ((A >> j) & 1)) << (i + j);
  return O;
}
"""


def timed(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per measurement (median reported)")
    args = parser.parse_args(argv)

    from approxdse.multipliers.catalog import catalog, builtin_document
    from approxdse.multipliers.catalog_build import BUILTIN_SPECS
    from approxdse.multipliers.families import generate_lut
    from approxdse.multipliers.metrics import error_metrics

    print(f"machine: {platform.node()} ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}), "
          f"python {platform.python_version()}")
    rows = []

    def one(family, signed, params):
        error_metrics(generate_lut(family, signed, params), signed=signed)

    for family, signed, params in [("bam", False, {"h": 2, "v": 6}), ("drum", True, {"k": 4}),
                                   ("mitchell", False, {}), ("etm", True, {"m": 3})]:
        one(family, signed, params)  # warm-up
        t = timed(lambda f=family, s=signed, p=params: one(f, s, p), args.repeat)
        rows.append((f"LUT + metrics, {'s8' if signed else 'u8'} {family} {params or ''}", t, 0.050))

    specs = [(f, s, p) for s in (False, True) for f, p in BUILTIN_SPECS]
    t = timed(lambda: [one(*spec) for spec in specs], max(1, args.repeat // 2))
    rows.append((f"whole catalog ({len(specs)} multipliers), LUT + metrics, no cache", t, 2.0))

    import pandas  # noqa: F401  (its import time is not the catalog's)
    import yaml  # noqa: F401

    builtin_document.cache_clear()
    t0 = time.perf_counter()
    catalog(include_user=False)
    rows.append(("multipliers.catalog(), YAML parse + DataFrame", time.perf_counter() - t0, None))

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["APPROXDSE_HOME"] = str(Path(tmp) / "home")
        from approxdse.multipliers.c_model import load_c_model

        src = Path(tmp) / "mul8u_BENCH.c"
        src.write_text(C_MODEL)
        t0 = time.perf_counter()
        m = load_c_model(src)
        rows.append(("C model import, first (compile + 65,536 calls)", time.perf_counter() - t0, None))
        assert m.lut[255, 255] > 0
        t = timed(lambda: load_c_model(src), max(args.repeat, 20))
        rows.append(("C model import, cached (hash + load)", t, 0.005))

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement'.ljust(width)}  {'time':>10}  {'target':>8}  {'ratio':>6}")
    for name, t, target in rows:
        tgt = f"{target * 1000:.0f} ms" if target else "-"
        ratio = f"{t / target:.3f}" if target else "-"
        print(f"{name.ljust(width)}  {t * 1000:8.2f} ms  {tgt:>8}  {ratio:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
