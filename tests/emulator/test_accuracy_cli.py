"""``approxdse accuracy`` through the installed entry point: JSON and table output, per-layer
YAML, imported multipliers, --sweep, and bad input (one clear message, exit status 2)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

EXE = shutil.which("approxdse")
pytestmark = pytest.mark.skipif(EXE is None, reason="the approxdse entry point is not installed (pip install -e .)")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private APPROXDSE_HOME with the float LeNet already cached (trained once here)."""
    home = tmp_path_factory.mktemp("cli_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPROXDSE_HOME", str(home))
        import torch

        torch.set_num_threads(1)
        from approxdse.emulator.training import trained_float_model

        trained_float_model("lenet5", "digits", seed=0)
    return home


def run(home, *args, cwd=None):
    env = dict(os.environ, APPROXDSE_HOME=str(home), OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_json_report(home):
    res = run(home, "accuracy", "lenet5", "--dataset", "digits", "--multiplier", "u8_trunc_3",
              "--format", "json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("float_accuracy", "exact_8bit_accuracy", "approx_accuracy"):
        assert 0.0 <= out[key] <= 1.0
    assert out["float_model_cached"] is True  # the fixture's training was reused
    assert out["exact_8bit_accuracy"] >= out["float_accuracy"] - 0.01
    assert out["multiplier"] == "u8_trunc_3" and out["relative_energy"] < 1.0
    assert out["approx_accuracy"] < out["exact_8bit_accuracy"]
    assert out["approx_time_s"] > 0 and out["fine_tuned_accuracy"] is None


def test_table_report_with_per_layer_yaml_and_fine_tuning(home, tmp_path):
    layers = tmp_path / "layers.yaml"
    layers.write_text("default: u8_exact\nlayers:\n  classifier.5: u8_trunc_4\n")
    res = run(home, "accuracy", "--layers", str(layers), "--fine-tune", "1")
    assert res.returncode == 0, res.stderr
    text = res.stdout
    for label in ("float", "8-bit exact", "approximate", "fine-tuned (1 ep)"):
        assert label in text
    assert "classifier.5=u8_trunc_4" in text and "features.0=u8_exact" in text
    assert text.count("%") >= 4


def test_imported_and_file_multipliers(home, tmp_path):
    v = np.arange(256)
    lut = np.multiply.outer(v & ~3, v & ~3).astype(np.int32)  # drop two low bits of each operand
    path = tmp_path / "drop2.npy"
    np.save(path, lut)
    imp = run(home, "multipliers", "import", str(path), "--name", "my_drop2", "--unsigned",
              "--relative-energy", "0.5")
    assert imp.returncode == 0, imp.stderr
    by_name = run(home, "accuracy", "--multiplier", "my_drop2", "--format", "json")
    by_path = run(home, "accuracy", "--multiplier", str(path), "--format", "json")
    assert by_name.returncode == 0 and by_path.returncode == 0, by_name.stderr + by_path.stderr
    a, b = json.loads(by_name.stdout), json.loads(by_path.stdout)
    assert a["relative_energy"] == 0.5 and a["approx_accuracy"] == b["approx_accuracy"]


def test_sweep_writes_csv_and_plot(home, tmp_path):
    out = tmp_path / "sweep"
    res = run(home, "accuracy", "--sweep", "--multipliers", "u8_exact,u8_bam_h3_v9,s8_trunc_2", "--out", str(out))
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out / "accuracy_sweep.csv")
    assert list(table["multiplier"]) == ["u8_exact", "u8_bam_h3_v9", "s8_trunc_2"]
    assert table["approx_accuracy"].between(0, 1).all()
    assert (out / "accuracy_sweep.png").stat().st_size > 1000
    assert "wrote" in res.stdout and "u8_bam_h3_v9" in res.stdout


BAD = [
    (["--multiplier", "no_such_mult"], "unknown multiplier 'no_such_mult'"),
    (["vgg99", "--multiplier", "u8_exact"], "unknown network 'vgg99'"),
    (["--dataset", "imagenet", "--multiplier", "u8_exact"], "unknown dataset 'imagenet'"),
    (["--dataset", "mnist", "--multiplier", "u8_exact"], "pass the directory that holds them (--data-dir)"),
    (["--dataset", "cifar10", "--data-dir", "{tmp}/nowhere", "--multiplier", "u8_exact"],
     "cifar10 data directory '{tmp}/nowhere' does not exist"),
    (["--dataset", "mnist", "--data-dir", "{tmp}", "--multiplier", "u8_exact"],
     "MNIST directory '{tmp}' lacks train-images-idx3-ubyte"),
    ([], "name a multiplier with --multiplier NAME"),
    (["--multiplier", "u8_exact", "--multipliers", "a,b"], "--multipliers needs --sweep"),
    (["--multiplier", "u8_exact", "--fine-tune", "-1"], "--fine-tune must be at least 0"),
    (["--layers", "{tmp}/missing.yaml"], "layer file '{tmp}/missing.yaml' does not exist"),
    (["--layers", "{tmp}/bad.yaml"], "is not valid YAML at line"),
    (["--layers", "{tmp}/list.yaml"], "must be a non-empty mapping of layer name to multiplier name"),
    (["--multiplier", "u8_exact", "--layers", "{tmp}/unknown_layer.yaml"], "'conv7' not in the network"),
    (["--multiplier", "u8_exact", "--mode", "warp"], "invalid choice: 'warp'"),
    (["--sweep", "--multipliers", "u8_exact,nope"], "unknown multiplier 'nope'"),
    (["lenet5", "--network", "resnet8", "--multiplier", "u8_exact"], "two networks given"),
]


def _bad_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("features.0: [u8_exact\n")
    (tmp_path / "list.yaml").write_text("- features.0\n- u8_exact\n")
    (tmp_path / "unknown_layer.yaml").write_text("conv7: u8_exact\n")


@pytest.mark.parametrize("args,message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_input_gives_one_clear_message_and_exit_2(home, tmp_path, monkeypatch, capsys, args, message):
    """In-process through ``approxdse.cli.main`` (what the entry point calls), for speed."""
    from approxdse.cli import main

    _bad_files(tmp_path)
    monkeypatch.setenv("APPROXDSE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    try:
        status = main(["accuracy", *args])
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert message.replace("{tmp}", str(tmp_path)) in err
    assert "Traceback" not in err
    assert not (tmp_path / "accuracy_sweep").exists()  # nothing half-written


@pytest.mark.parametrize("case", [0, 4, 10])
def test_bad_input_through_the_entry_point(home, tmp_path, case):
    args, message = BAD[case]
    _bad_files(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = run(home, "accuracy", *args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "approxdse: error: " in res.stderr and message.replace("{tmp}", str(tmp_path)) in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_help_lists_the_accuracy_command_quickly(home):
    res = run(home, "--help")
    assert res.returncode == 0 and "accuracy" in res.stdout
    res = run(home, "accuracy", "--help")
    for flag in ("NETWORK", "--progress", "--no-progress", "--dataset", "--multiplier", "--layers", "--fine-tune", "--backend", "--mode",
                 "--format", "--data-dir", "--epochs", "--seed", "--sweep", "--multipliers", "--out"):
        assert flag in res.stdout
    # the CLI modules must not import torch just to build the parser
    probe = subprocess.run([sys.executable, "-c", "import sys, approxdse.cli as c; c.build_parser(); "
                            "print('torch' in sys.modules)"], capture_output=True, text=True)
    assert probe.stdout.strip() == "False", probe.stderr


def test_mnist_from_a_data_directory(home, tmp_path, monkeypatch, capsys):
    """LeNet-5 on a tiny MNIST written in the IDX format (random pixels: only the plumbing is checked)."""
    import struct

    from approxdse.cli import main

    rng = np.random.default_rng(0)
    for stem, shape in (("train-images-idx3-ubyte", (40, 28, 28)), ("train-labels-idx1-ubyte", (40,)),
                        ("t10k-images-idx3-ubyte", (12, 28, 28)), ("t10k-labels-idx1-ubyte", (12,))):
        arr = rng.integers(0, 10 if len(shape) == 1 else 256, shape, dtype=np.uint8)
        header = struct.pack(">BBBB", 0, 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
        (tmp_path / stem).write_bytes(header + arr.tobytes())
    monkeypatch.setenv("APPROXDSE_HOME", str(home))
    status = main(["accuracy", "--dataset", "mnist", "--data-dir", str(tmp_path), "--epochs", "1",
                   "--multiplier", "s8_trunc_2", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["dataset"] == "mnist" and out["test_samples"] == 12
    assert out["epochs"] == 1 and 0.0 <= out["approx_accuracy"] <= 1.0
