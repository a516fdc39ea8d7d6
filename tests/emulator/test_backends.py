"""Backends agree bit for bit with each other and with independent oracles."""
import numpy as np
import pytest
import torch

from approxdse.errors import ApproxDSEError
from multipliers.emulator import available_backends, get_backend, register_backend
from multipliers.emulator.backends import Backend, ConvGeometry, registered_backends
from multipliers.emulator.oracles import integer_conv, lut_conv_loops, structured_test_multipliers
from multipliers.multiplier import exact_lut

# (N, C, H, W, M, R, S, stride, padding, dilation, groups)
SHAPES = [
    (2, 3, 9, 7, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (1, 4, 8, 8, 6, 3, 2, (2, 1), (0, 2), (1, 1), 2),
    (3, 6, 10, 9, 6, 3, 3, (2, 2), (2, 1), (2, 1), 6),  # depthwise, dilated
    (2, 8, 5, 6, 16, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (1, 2, 4, 4, 3, 4, 4, (1, 1), (3, 3), (1, 1), 1),  # padding larger than half the kernel
]


def _random_case(shape, seed):
    n, c, h, w, m, r, s, stride, padding, dilation, groups = shape
    rng = np.random.default_rng(seed)
    a = torch.from_numpy(rng.integers(0, 256, (n, c, h, w), dtype=np.uint8))
    wt = torch.from_numpy(rng.integers(0, 256, (m, c // groups, r, s), dtype=np.uint8))
    return a, wt, ConvGeometry(stride, padding, dilation, groups), int(rng.integers(0, 256))


@pytest.mark.parametrize("shape", SHAPES)
def test_backends_match_loop_oracle_on_a_random_lut(shape):
    lut = structured_test_multipliers(False)["random"].lut
    a, wt, geom, pad = _random_case(shape, 1)
    expected = lut_conv_loops(a.numpy(), wt.numpy(), lut, geom, pad)
    for name in ("reference", "cpu"):
        got = get_backend(name).lut_conv2d(a, wt, lut, geom, pad)
        assert got.dtype == torch.int32
        np.testing.assert_array_equal(got.numpy().astype(np.int64), expected, err_msg=name)


@pytest.mark.parametrize("seed", range(6))
def test_cpu_equals_reference_on_random_shapes(seed):
    rng = np.random.default_rng(100 + seed)
    groups = int(rng.choice([1, 2, 4]))
    c = groups * int(rng.integers(1, 5))
    m = groups * int(rng.integers(1, 6))
    r, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 4)), c, int(rng.integers(r + 2, 14)), int(rng.integers(s + 2, 14)), m, r, s,
             (int(rng.integers(1, 3)), int(rng.integers(1, 3))), (int(rng.integers(0, 3)), int(rng.integers(0, 3))),
             (int(rng.integers(1, 3)), int(rng.integers(1, 3))), groups)
    lut = structured_test_multipliers(True, seed=seed)["random"].lut
    a, wt, geom, pad = _random_case(shape, seed)
    ref = get_backend("reference").lut_conv2d(a, wt, lut, geom, pad)
    cpu = get_backend("cpu").lut_conv2d(a, wt, lut, geom, pad)
    assert torch.equal(ref, cpu)


def test_exact_lut_equals_integer_convolution():
    """The exact multiplier's LUT sum plus zero-point corrections is plain integer conv."""
    from multipliers.emulator.integer_conv import IntegerOperands, zero_point_corrections
    from multipliers.emulator.quantization import UNSIGNED
    import multipliers

    for shape in SHAPES:
        a, wt, geom, pad = _random_case(shape, 7)
        w_zero = torch.from_numpy(np.random.default_rng(3).integers(0, 256, wt.shape[0]))
        for name in ("reference", "cpu"):
            ops = IntegerOperands(a.to(torch.int64), wt.to(torch.int64), pad, w_zero, UNSIGNED, geom,
                                  multipliers.get("u8_exact"), get_backend(name))
            acc = get_backend(name).lut_conv2d(a, wt, exact_lut(False), geom, pad).to(torch.int64)
            acc = acc + zero_point_corrections(ops)
            assert torch.equal(acc, integer_conv(a.to(torch.int64), wt.to(torch.int64), pad, w_zero, geom))


def test_linear_gemm_matches_conv_path():
    rng = np.random.default_rng(5)
    lut = structured_test_multipliers(False)["random"].lut
    a = torch.from_numpy(rng.integers(0, 256, (37, 70), dtype=np.uint8))
    w = torch.from_numpy(rng.integers(0, 256, (11, 70), dtype=np.uint8))
    expected = lut.astype(np.int64)[a.numpy()[:, None, :], w.numpy()[None, :, :]].sum(-1)
    for name in ("reference", "cpu"):
        np.testing.assert_array_equal(get_backend(name).lut_linear(a, w, lut).numpy(), expected)


def test_int32_accumulator_wraps_identically():
    """Sums beyond int32 wrap the same way in every backend (what an int32 accumulator does)."""
    lut = np.full((256, 256), (1 << 17) - 1, dtype=np.int32)
    a = torch.zeros((1, 64, 20, 20), dtype=torch.uint8)
    w = torch.zeros((2, 64, 20, 20), dtype=torch.uint8)  # K = 25,600 products of 131,071 > 2^31
    ref = get_backend("reference").lut_conv2d(a, w, lut, ConvGeometry(), 0)
    cpu = get_backend("cpu").lut_conv2d(a, w, lut, ConvGeometry(), 0)
    total = 25_600 * ((1 << 17) - 1)
    wrapped = (total + (1 << 31)) % (1 << 32) - (1 << 31)
    assert int(ref[0, 0, 0, 0]) == wrapped == int(cpu[0, 0, 0, 0])


def test_registry_and_cuda_plug_in_point():
    assert {"reference", "cpu"} <= set(available_backends())
    assert "cuda" in registered_backends()
    if not torch.cuda.is_available():
        with pytest.raises(ApproxDSEError, match="needs a CUDA GPU and cupy"):
            get_backend("cuda")
    with pytest.raises(ApproxDSEError, match="unknown backend"):
        get_backend("tpu")

    class LoopBackend(Backend):
        name = "test-loops"

        def lut_conv2d(self, a_index, w_index, lut, geometry, pad_index):
            out = lut_conv_loops(a_index.numpy(), w_index.numpy(), lut, geometry, pad_index)
            return torch.from_numpy(out.astype(np.int32))

    register_backend(LoopBackend)
    assert isinstance(get_backend("test-loops"), LoopBackend)
    with pytest.raises(ApproxDSEError, match="already registered"):
        register_backend(LoopBackend)
