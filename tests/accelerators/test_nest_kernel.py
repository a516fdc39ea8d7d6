"""The compiled counting model (accelerators.nest_kernel) equals nest_analysis.analyze, and its bounds bound."""
from __future__ import annotations

import numpy as np
import pytest

from approxdse.accelerators import mapspace, nest_kernel
from approxdse.accelerators.architecture import DIMS, load_architecture
from approxdse.accelerators.nest_analysis import Problem, analyze, factor_ranges
from approxdse.networks.workload import Layer

DESIGNS = ("eyeriss", "simba", "eyeriss-2022", "simba-2022")
LAYERS = [
    Layer("c3", C=16, M=32, P=14, Q=14, R=3, S=3),
    Layer("s2", C=8, M=16, P=7, Q=7, R=3, S=3, stride_h=2, stride_w=2),
    Layer("pw", C=24, M=12, P=6, Q=6, R=1, S=1, groups=2),
    Layer("dil", C=4, M=8, P=5, Q=5, R=3, S=3, dilation_h=2, dilation_w=2),
]


def _random_tilings(prob, arch, rng, n):
    """Random exact factorisations within the factor ranges (legal or not: the model is defined for all)."""
    lo, hi = factor_ranges(prob, arch)
    L = len(arch.levels)
    per = [mapspace._factorisations(int(prob.dims[d]), np.ones(L, dtype=np.int64), np.maximum(hi[:, d], 1))
           for d in range(len(DIMS))]
    out = np.ones((n, L, len(DIMS)), dtype=np.int64)
    for d, f in enumerate(per):
        out[:, :, d] = f[rng.integers(0, len(f), n)]
    return out


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("layer", LAYERS, ids=[layer.name for layer in LAYERS])
def test_kernel_cost_equals_analyze(design, layer):
    arch = load_architecture(design)
    prob = Problem.from_layer(layer)
    rng = np.random.default_rng(7)
    b = _random_tilings(prob, arch, rng, 300)
    L = len(arch.levels)
    ranks = np.stack([np.stack([rng.permutation(len(DIMS)) for _ in range(L)]) for _ in range(len(b))])
    ka = nest_kernel.KernelArch.build(prob, arch)
    ref = analyze(prob, arch, b, ranks)
    e, c = nest_kernel.cost_batch(b, ranks, *ka.args())
    np.testing.assert_allclose(e, ref.energy, rtol=1e-12)
    np.testing.assert_array_equal(c, ref.cycles)
    # the bound over every order: equal to analyze's, and below every order's cost
    work = nest_kernel.scratch(L)
    lb = np.array([nest_kernel.cost(b[k], ranks[k], True, *ka.args(), work)[0] for k in range(len(b))])
    ref_lb = analyze(prob, arch, b, ranks, bound=True).energy
    np.testing.assert_allclose(lb, ref_lb, rtol=1e-12)
    assert (lb <= e * (1 + 1e-12)).all()


@pytest.mark.parametrize("design", DESIGNS)
def test_partial_bound_is_below_every_completion(design):
    """The pruning bound of a partial tiling (some dimensions not placed) is below every completion's cost."""
    arch = load_architecture(design)
    layer = LAYERS[0]
    prob = Problem.from_layer(layer)
    rng = np.random.default_rng(3)
    b = _random_tilings(prob, arch, rng, 200)
    L = len(arch.levels)
    ka = nest_kernel.KernelArch.build(prob, arch)
    work = nest_kernel.scratch(L)
    rel = ka.relevant
    spmax, inner_pos = ka.innermost(factor_ranges(prob, arch)[1])
    checked = 0
    for k in range(len(b)):
        full = b[k]
        unplaced = rng.permutation(len(DIMS))[: rng.integers(1, 5)]
        part = full.copy()
        part[:, unplaced] = 1
        fac = np.ones((2, 3))
        for t in range(3):
            for d in unplaced:
                nest_kernel._scale(fac, t, d, prob.dims[d], rel, spmax)
        pb = nest_kernel._partial_energy_bound(part, fac, inner_pos, *ka.args(), work)
        lb_full = nest_kernel.cost(full, full, True, *ka.args(), work)[0]
        assert pb <= lb_full * (1 + 1e-12), (k, unplaced)
        checked += 1
    assert checked == len(b)
