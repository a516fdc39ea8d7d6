"""Timeloop problem files -> layers: the v0.4 layout, the older layout, the templated
``layer_shapes/`` files, unknown keys (``HStride``), grouped shapes, and the writer."""
import textwrap
import warnings
from pathlib import Path

import pytest

from approxdse.networks.problem_files import (ProblemFileWarning, is_problem_file, load_problem, load_problems,
                                        problem_dict, write_problem)
from approxdse.networks.workload import Layer
from approxdse.core.errors import ApproxDSEError

# The shared reference data sits beside a developer's or CI's checkout (../shared), not in a user's clone.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "timeloop"

V04 = """\
problem:
  version: 0.4
  instance:
    C: 128
    Hdilation: 1
    Hstride: 1
    M: 256
    N: 1
    P: 56
    Q: 56
    R: 3
    S: 3
    Wdilation: 1
    Wstride: 1
  shape:
    coefficients:
    - {default: 1, name: Wstride}
    - {default: 1, name: Hstride}
    dimensions: [C, M, R, S, N, P, Q]
    name: CNN_Layer
"""

# as in the exercises' layer_shapes/resnet18/05.yaml
TEMPLATED = """\
{{include_text('../problem_base.yaml')}}
problem:
  <<<: *problem_base
  instance: {C: 64, M: 128, P: 28, Q: 28, R: 3, S: 3, HStride: 2, WStride: 2}
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_v04_problem(tmp_path):
    layer = load_problem(_write(tmp_path, "VGG02_layer5.yaml", V04))
    assert layer == Layer("VGG02_layer5", C=128, M=256, P=56, Q=56, R=3, S=3)
    assert layer.macs == 924_844_032  # the "computes" Timeloop reports for this layer


def test_older_layout_and_padding(tmp_path):
    text = """\
    problem:
      shape: cnn-layer
      C: 3
      M: 32
      P: 112
      Q: 112
      R: 3
      S: 3
      H: 224
      W: 224
      Hpad: 1
      Wpad: 1
      Hstride: 2
      Wstride: 2
    """
    layer = load_problem(_write(tmp_path, "p.yaml", text))
    assert (layer.C, layer.M, layer.P, layer.stride_h, layer.pad_h) == (3, 32, 112, 2, 1)


def test_templated_file_with_misspelled_strides_warns_and_reads_them(tmp_path):
    path = _write(tmp_path, "05.yaml", TEMPLATED)
    with pytest.warns(ProblemFileWarning, match="HStride read as Hstride"):
        layer = load_problem(path)
    assert (layer.stride_h, layer.stride_w, layer.P, layer.C) == (2, 2, 28, 64)


def test_strict_mode_rejects_keys_timeloop_ignores(tmp_path):
    path = _write(tmp_path, "05.yaml", TEMPLATED)
    with pytest.raises(ApproxDSEError, match=r"unknown key problem.instance.HStride .*did you mean Hstride"):
        load_problem(path, strict=True)


def test_unknown_and_bad_values_are_errors(tmp_path):
    with pytest.raises(ApproxDSEError, match="unknown key problem.instance.K"):
        load_problem(_write(tmp_path, "a.yaml", "problem:\n  instance: {C: 3, M: 4, K: 3}\n"))
    with pytest.raises(ApproxDSEError, match="must be positive"):
        load_problem(_write(tmp_path, "b.yaml", "problem:\n  instance: {C: 0, M: 4}\n"))
    with pytest.raises(ApproxDSEError, match="must be an integer"):
        load_problem(_write(tmp_path, "c.yaml", "problem:\n  instance: {C: 3.5, M: 4}\n"))
    with pytest.raises(ApproxDSEError, match="no 'problem' mapping"):
        load_problem(_write(tmp_path, "d.yaml", "architecture: {}\n"))
    with pytest.raises(ApproxDSEError, match="not valid YAML at line"):
        load_problem(_write(tmp_path, "e.yaml", "problem:\n  instance: {C: 3\n  M: [\n"))
    with pytest.raises(ApproxDSEError, match="only CNN-layer shapes"):
        load_problem(_write(tmp_path, "f.yaml", "problem:\n  shape: {dimensions: [A, B]}\n  instance: {A: 3}\n"))
    with pytest.raises(ApproxDSEError, match="does not give the output size"):
        load_problem(_write(tmp_path, "g.yaml", "problem:\n  instance: {C: 3, M: 4, P: 10, Q: 10, R: 3, S: 3, W: 30, H: 12}\n"))
    with pytest.raises(ApproxDSEError, match="does not exist"):
        load_problems(tmp_path / "missing.yaml")


def test_grouped_shape_and_round_trip(tmp_path):
    dw = Layer("dw", C=32, M=32, P=56, Q=56, R=3, S=3, stride_h=2, stride_w=2, groups=32)
    back = load_problem(write_problem(dw, tmp_path / "dw.yaml"))
    assert back == dw
    assert problem_dict(dw)["problem"]["instance"]["G"] == 32
    fc = Layer("fc", C=512, M=1000, kind="fc")
    assert load_problem(write_problem(fc, tmp_path / "fc.yaml")) == fc


def test_folder_loads_in_natural_order(tmp_path):
    for i in (1, 2, 10):
        _write(tmp_path, f"L_layer{i}.yaml", f"problem:\n  instance: {{C: {i}, M: 4, P: 2, Q: 2}}\n")
    w = load_problems(tmp_path)
    assert w.names == ["L_layer1", "L_layer2", "L_layer10"] and w.name == tmp_path.name
    assert is_problem_file(tmp_path) and not is_problem_file(tmp_path / "nothing.txt")


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared Timeloop data not present")
def test_every_shared_problem_file_loads():
    files = sorted((SHARED / "layer_shapes").rglob("*.yaml"))
    files += [SHARED / "exercises_head_2d55108/_include/default_problem.yaml"]
    assert len(files) >= 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProblemFileWarning)
        layers = [load_problem(f) for f in files]
    assert all(layer.macs > 0 for layer in layers)
    alexnet1 = load_problem(SHARED / "layer_shapes/CONV/AlexNet/AlexNet_layer1.yaml")
    assert (alexnet1.M, alexnet1.R, alexnet1.stride_h, alexnet1.P) == (96, 11, 4, 55)
