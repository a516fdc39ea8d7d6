"""CPU emulator benchmark: emulated time / native float torch time, same model and batch.

    python benchmarks/cpu_emulator.py            # ResNet-20 (CIFAR, batch 128) and ResNet-18 (224x224, batch 8)
    python benchmarks/cpu_emulator.py --quick    # fewer repeats, ResNet-18 LUT mode once

First, per LUT GEMM kernel (each forced in turn: every native kernel this CPU
runs, and numba): the kernel alone on 1024x576x64 in G lookups/s, and the
whole-network ratio (``lut`` mode / native fp32 torch, same threads) for
ResNet-20 (batch 128) and ResNet-18 (batch 8); best-of and median of the
repeats. Then, with the default kernel, for each network: the float model (``torch.no_grad``, eval mode) against the same
model converted by :func:`approxdse.emulator.approximate` (batch norm stays a
float layer in both), in ``lut`` mode with an unstructured multiplier and in
``exact-decomposition`` mode with a 1-term and a 5-term multiplier. Timings are
medians of interleaved repeats (native, emulated, native, ...), so a load change
on a shared machine hits both. Also reports lookups/s (network MACs / emulated
time) and the LUT GEMM kernel alone on 1024x576x64 against fp32 torch matmul.
Threads: torch, numba and OpenMP all get ``--threads`` (default 2). The header
names the CPU, its SIMD flags, the kernel that runs by default and the load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from machine import cpu_model  # benchmarks/machine.py


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (about a minute)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 5, quick 2)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: perf_counter; cpu: process CPU time (use with --threads 1 on a shared machine, "
                        "where it is robust to other jobs' load)")
    p.add_argument("--lut-multiplier", default="u8_mitchell", help="multiplier for lut mode (any LUT)")
    p.add_argument("--decomposition-multipliers", default="u8_drum_4,u8_bam_h2_v6",
                   help="comma-separated multipliers for exact-decomposition mode")
    p.add_argument("--kernels", default="all",
                   help="comma-separated LUT GEMM kernels for the per-kernel table (all: every one this CPU runs, "
                        "and numba; none: skip the table)")
    p.add_argument("--no-modes", action="store_true", help="skip the per-mode table (default kernel)")
    p.add_argument("--kernel-only", action="store_true",
                   help="per-kernel table: the GEMM alone, no whole networks (with --no-modes: a short run)")
    return p.parse_args()


_SIMD_FLAGS = ("sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512vbmi", "asimd", "sve")


def _cpu_description() -> str:
    """The CPU model and its SIMD flags, as /proc/cpuinfo reports them."""
    from approxdse.emulator.backends import native_kernel

    flags = [f for f in _SIMD_FLAGS if f in native_kernel.cpu_flags()]
    return f"{cpu_model()} ({native_kernel.machine()}; {' '.join(flags) or 'no SIMD flags read'})"


def _use_kernel(name: str):
    """Make ``get_backend("cpu")`` (what the converted layers use) run kernel ``name``; returns that backend."""
    from approxdse.emulator import get_backend, register_backend
    from approxdse.emulator.backends import native_kernel
    from approxdse.emulator.backends.cpu import CPUBackend

    os.environ[native_kernel.KERNEL_VARIABLE] = name
    register_backend(CPUBackend, replace=True)  # drops the cached instance
    backend = get_backend("cpu")
    assert backend.kernel == name, (backend.kernel, name)
    return backend


def _time_pair(clock, first, second, repeats: int) -> tuple[list[float], list[float]]:
    """Interleaved timings of two calls (so a load change on a shared machine hits both)."""
    t1, t2 = [], []
    for _ in range(repeats):
        t0 = clock(); first(); t1.append(clock() - t0)
        t0 = clock(); second(); t2.append(clock() - t0)
    return t1, t2


def main() -> int:
    args = _parse()
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from approxdse import multipliers
    from approxdse.networks import zoo
    from approxdse.emulator import approximate, calibrate, get_backend

    repeats = args.repeats or (2 if args.quick else 5)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    backend = get_backend("cpu")
    default_kernel = backend.kernel
    print(f"# CPU emulator benchmark: {_cpu_description()}, {os.cpu_count()} CPUs, {args.threads} threads, "
          f"torch {torch.__version__}, LUT GEMM kernel: {backend.kernel}; {args.clock} clock; "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.kernels != "none":
        _per_kernel_table(args, repeats, clock)
        backend = _use_kernel(default_kernel)
    if args.no_modes:
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
        return 0

    # ---- kernel alone: 1024 x 576 x 64 (rows x K x M), the anchor's shape
    rng = np.random.default_rng(0)
    rows, k, m = 1024, 576, 64
    a = torch.from_numpy(rng.integers(0, 256, (rows, k), dtype=np.uint8))
    w = torch.from_numpy(rng.integers(0, 256, (m, k), dtype=np.uint8))
    lut = multipliers.get(args.lut_multiplier).lut
    af, wf = torch.rand(rows, k), torch.rand(k, m)
    backend.lut_linear(a, w, lut)
    t_lut, t_mm = [], []
    for _ in range(max(5, repeats * 3)):
        t0 = clock(); backend.lut_linear(a, w, lut); t_lut.append(clock() - t0)
        t0 = clock(); af @ wf; t_mm.append(clock() - t0)
    lk, mm = statistics.median(t_lut), statistics.median(t_mm)
    print("\n## LUT GEMM kernel, 1024x576x64 (incl. layout copies)")
    print(f"| kernel | time | lookups/s | / fp32 torch matmul ({mm * 1e3:.2f} ms) |\n| --- | --- | --- | --- |")
    print(f"| {backend.kernel} | {lk * 1e3:.2f} ms | {rows * k * m / lk / 1e9:.1f} G | {lk / mm:.1f}x |")
    if backend.kernel != "numba":
        from approxdse.emulator.backends.cpu import CPUBackend

        nb = CPUBackend("numba")
        nb.lut_linear(a, w, lut)
        t_nb = []
        for _ in range(max(5, repeats * 3)):
            t0 = clock(); nb.lut_linear(a, w, lut); t_nb.append(clock() - t0)
        nbt = statistics.median(t_nb)
        print(f"| numba fallback | {nbt * 1e3:.2f} ms | {rows * k * m / nbt / 1e9:.1f} G | {nbt / mm:.1f}x |")

    # ---- whole networks
    cases = [("resnet20", 128, (3, 32, 32)), ("resnet18", 8, (3, 224, 224))]
    modes = [("lut", args.lut_multiplier)] + [("exact-decomposition", n)
                                              for n in args.decomposition_multipliers.split(",") if n]
    print("\n## Whole network, emulated / native float torch (same model, batch, threads)")
    print("| network | batch | mode | multiplier | native | emulated | ratio | lookups/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for net, batch, shape in cases:
        torch.manual_seed(0)
        model = zoo.module(net).eval()
        x = torch.randn(batch, *shape)
        macs = zoo.workload(net).macs * batch
        for mode, mult_name in modes:
            if args.quick and net == "resnet18" and mode != "lut":
                continue
            q = approximate(model, mult_name, mode=mode, backend="cpu")
            calibrate(q, [x])
            with torch.no_grad():
                model(x), q(x)  # warm-up (numba/native compile, caches)
                t_nat, t_emu = [], []
                for _ in range(repeats):
                    t0 = clock(); model(x); t_nat.append(clock() - t0)
                    t0 = clock(); q(x); t_emu.append(clock() - t0)
            nat, emu = statistics.median(t_nat), statistics.median(t_emu)
            print(f"| {net} | {batch} | {mode} | {mult_name} | {nat * 1e3:.0f} ms | {emu * 1e3:.0f} ms | "
                  f"{emu / nat:.2f}x | {macs / emu / 1e9:.1f} G |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 0


def _per_kernel_table(args, repeats: int, clock) -> None:
    import numpy as np
    import torch

    from approxdse import multipliers
    from approxdse.emulator import approximate, calibrate
    from approxdse.emulator.backends import native_kernel
    from approxdse.networks import zoo

    if args.kernels == "all":
        names = [n for n in native_kernel.KERNELS if native_kernel.load(n) is not None] + ["numba"]
    else:
        names = [n.strip() for n in args.kernels.split(",") if n.strip()]
    rng = np.random.default_rng(0)
    rows, k, m = 1024, 576, 64
    a = torch.from_numpy(rng.integers(0, 256, (rows, k), dtype=np.uint8))
    w = torch.from_numpy(rng.integers(0, 256, (m, k), dtype=np.uint8))
    lut = multipliers.get(args.lut_multiplier).lut
    nets = [] if args.kernel_only else [("resnet20", 128, (3, 32, 32)), ("resnet18", 8, (3, 224, 224))]
    models = {}
    for net, batch, shape in nets:
        torch.manual_seed(0)
        model = zoo.module(net).eval()
        x = torch.randn(batch, *shape)
        q = approximate(model, args.lut_multiplier, mode="lut", backend="cpu")
        calibrate(q, [x])
        models[net] = (model, q, x)
    print(f"\n## Per LUT GEMM kernel (forced), {args.lut_multiplier}: best-of / median of {repeats} "
          f"(kernel: {max(5, repeats * 3)}) repeats")
    heads = ["GEMM 1024x576x64, G lookups/s"] + ["ResNet-20 b128 lut / fp32", "ResNet-18 b8 lut / fp32"][:len(nets)]
    print(f"| kernel | {' | '.join(heads)} | load |")
    print("| --- " * (len(heads) + 2) + "|")
    for name in names:
        backend = _use_kernel(name)
        backend.lut_linear(a, w, lut)
        t_k = [0.0] * max(5, repeats * 3)
        for i in range(len(t_k)):
            t0 = clock(); backend.lut_linear(a, w, lut); t_k[i] = clock() - t0
        gl = rows * k * m / 1e9
        cells = [f"{gl / min(t_k):.1f} / {gl / statistics.median(t_k):.1f}"]
        for net, _, _ in nets:
            model, q, x = models[net]
            with torch.no_grad():
                model(x), q(x)  # warm-up
                t_nat, t_emu = _time_pair(clock, lambda m=model, x=x: m(x), lambda q=q, x=x: q(x), repeats)
            cells.append(f"{min(t_emu) / min(t_nat):.2f}x / {statistics.median(t_emu) / statistics.median(t_nat):.2f}x "
                         f"({statistics.median(t_emu) * 1e3:.0f} / {statistics.median(t_nat) * 1e3:.0f} ms)")
        print(f"| {name} | {' | '.join(cells)} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
