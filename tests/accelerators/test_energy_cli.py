"""``approxdse energy``: formats, comparison, plot, mapping files, errors (exit 2), speed."""
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from approxdse import multipliers
from approxdse.cli import main

APPROX = "u8_drum_4" if "u8_drum_4" in multipliers.names() else "s8_exact"


def run(capsys, *argv):
    status = main(["energy", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_table_by_default(capsys):
    status, out, _ = run(capsys, "lenet5")
    assert status == 0
    assert "lenet5" in out and "eyeriss" in out and "u8_exact" in out
    for word in ("component", "DRAM", "multiplier", "adder", "total"):
        assert word in out


def test_per_layer_table(capsys):
    status, out, _ = run(capsys, "lenet5", "--per-layer", "--accelerator", "simba", "--multiplier", APPROX)
    assert status == 0 and "classifier.3" in out and APPROX in out and "simba" in out


def test_json_and_csv(capsys, tmp_path):
    status, out, _ = run(capsys, "resnet20", "--format", "json", "--objective", "edp")
    data = json.loads(out)
    assert status == 0 and data["objective"] == "edp" and len(data["layers"]) == 20
    for key in ("name", "C", "M", "P", "Q", "R", "S", "stride", "groups", "macs", "energy_pJ", "components",
                "cycles", "utilization"):
        assert key in data["layers"][0]
    assert data["totals"]["macs"] == sum(layer["macs"] for layer in data["layers"])
    target = tmp_path / "out.csv"
    status, out, err = run(capsys, "lenet5", "--format", "csv", "--out", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert status == 0 and out == "" and [r["name"] for r in rows][-1] == "TOTAL"
    assert err == f"approxdse: energy csv written to {target}\n"  # says where it wrote, nothing else
    # the old spelling, for one release: the same file and one deprecation line
    for old in ("--output", "-o"):
        status, out, err = run(capsys, "lenet5", "--format", "csv", old, str(tmp_path / "old.csv"))
        assert status == 0 and out == "" and err == (f"approxdse: warning: {old} is deprecated, use --out\n"
                                                      f"approxdse: energy csv written to {tmp_path / 'old.csv'}\n")
        assert (tmp_path / "old.csv").read_text() == target.read_text()


def test_compare_multipliers_with_plot(capsys, tmp_path):
    png = tmp_path / "cmp.png"
    status, out, err = run(capsys, "lenet5", "--compare-multipliers", f"exact,{APPROX}", "--plot", str(png))
    assert status == 0 and "saving" in out and APPROX in out
    assert png.read_bytes()[:4] == b"\x89PNG" and "plot written" in err
    status, out, _ = run(capsys, "lenet5", "--compare-multipliers", f"exact,{APPROX}", "--format", "json")
    assert [row["multiplier"] for row in json.loads(out)["comparison"]][1] == APPROX


def test_input_shape_and_problem_file_warning(capsys, tmp_path):
    status, out, _ = run(capsys, "resnet20", "--input-shape", "2,3,32,32", "--format", "json")
    assert json.loads(out)["layers"][0]["N"] == 2 and json.loads(out)["input_shape"] == [2, 3, 32, 32]
    problem = tmp_path / "05.yaml"
    problem.write_text("problem:\n  instance: {C: 64, M: 128, P: 28, Q: 28, R: 3, S: 3, HStride: 2, WStride: 2}\n")
    status, out, err = run(capsys, str(problem), "--format", "json")
    assert status == 0 and "warning" in err and "HStride" in err
    assert json.loads(out)["layers"][0]["stride"] == 2
    status, _, err = run(capsys, str(problem), "--strict")
    assert status == 2 and "did you mean Hstride" in err


RUNS = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "our_runs"


@pytest.mark.parametrize("run_name,accelerator", [("head_eyeriss_like_VGG02_layer5", "eyeriss"),
                                                  ("head_simba_like_AlexNet_layer2", "simba")])
def test_timeloop_problem_and_mapping_files(capsys, run_name, accelerator):
    """Timeloop's own problem + map.yaml through the CLI give Timeloop's total within 1%
    (our Timeloop v3.0.3 runs, copied into tests/data by the model validation)."""
    run_dir = RUNS / run_name
    status, out, err = run(capsys, str(run_dir / "problem.yaml"), "--accelerator", accelerator,
                           "--mapping", str(run_dir / "timeloop-mapper.map.yaml"), "--format", "json")
    assert status == 0, err
    data = json.loads(out)
    timeloop = json.loads((run_dir / "result.json").read_text())
    expected_pJ = float(timeloop["fJ_per_compute"]["Total"]) * 1e-3 * int(timeloop["computes"])
    assert data["layers"][0]["macs"] == int(timeloop["computes"])
    assert data["totals"]["energy_pJ"] == pytest.approx(expected_pJ, rel=0.01)
    assert data["layers"][0]["mapping"]  # the loaded mapping as a loop nest


@pytest.mark.parametrize("argv,message", [
    (["resnet19"], "unknown network 'resnet19'"),
    (["lenet5", "--accelerator", "tpu"], "eyeriss"),
    (["lenet5", "--multiplier", "nope"], "unknown multiplier 'nope'; run `approxdse multipliers list`"),
    (["lenet5", "--input-shape", "1,1,a,32"], "not a list of integers"),
    (["lenet5", "--input-shape", "1,1,2,2"], "too small"),
    (["lenet5", "--plot", "x.pdf"], "PNG"),
    (["lenet5", "--mapping", "map.yaml"], "mapping file 'map.yaml' does not exist"),
    (["missing/net.py:build"], "does not exist"),
    (["lenet5", "--accelerator", "missing.yaml"], "does not exist"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert err.startswith("approxdse: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_installed_command_prints_a_per_component_table():
    """The issue's 'done when' command, in a fresh process (its time is a benchmark figure:
    benchmarks/energy_bench.py and benchmarks/RESULTS.md)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "approxdse", "energy", "resnet18", "--accelerator", "eyeriss",
                          "--multiplier", APPROX], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "multiplier" in out.stdout and "DRAM" in out.stdout


def test_accelerator_from_a_yaml_file(capsys, tmp_path):
    from importlib import resources

    arch = tmp_path / "my_eyeriss.yaml"
    arch.write_text(resources.files("approxdse.accelerators.data").joinpath("eyeriss.yaml").read_text())
    status, out, err = run(capsys, "lenet5", "--accelerator", str(arch), "--format", "json")
    assert status == 0, err
    status, builtin, _ = run(capsys, "lenet5", "--format", "json")
    assert json.loads(out)["totals"]["energy_pJ"] == pytest.approx(json.loads(builtin)["totals"]["energy_pJ"])


def test_workload_command_and_timeloop_export_round_trip(capsys, tmp_path):
    status = main(["workload", "mobilenet_v2", "--format", "json", "--timeloop-dir", str(tmp_path / "tl")])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert status == 0 and len(data["layers"]) == 53 and "53 Timeloop problem files" in err
    from approxdse.networks import zoo
    from approxdse.networks.problem_files import load_problems

    back = load_problems(tmp_path / "tl")
    ours = zoo.workload("mobilenet_v2")
    assert [layer.shape_key() for layer in back] == [layer.shape_key() for layer in ours]
    assert main(["workload", "resnet20"]) == 0
    assert "resnet20: 20 layers" in capsys.readouterr()[0]
    assert main(["workload", "nonet"]) == 2


def test_one_mapping_for_a_multi_layer_network_is_refused(capsys, tmp_path, monkeypatch):
    """An existing, valid map.yaml given for a 5-layer network: one line naming the layer count."""
    src = Path(__file__).parents[1] / "data" / "timeloop" / "our_runs_ref2024" / "ref2024_eyeriss_like_default"
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "lenet5", "--mapping", str(src / "timeloop-mapper.map.yaml"))
    assert status == 2
    assert err.startswith("approxdse: error: ") and "one mapping was given for 5 layers" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
