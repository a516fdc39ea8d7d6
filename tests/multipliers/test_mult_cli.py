"""``approxdse multipliers ...`` through the installed entry point."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from approxdse import multipliers
EXE = shutil.which("approxdse")


def run(home, *args):
    cmd = [EXE, "multipliers", *args] if EXE else [sys.executable, "-m", "approxdse", "multipliers", *args]
    env = {**os.environ, "APPROXDSE_HOME": str(home)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_list_json_and_sort(approxdse_home):
    proc = run(approxdse_home, "list", "--signed", "--sort", "relative_energy", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) >= 20 and all(r["signed"] for r in rows)
    for key in ("name", "signed", "family", "mae_pct", "wce_pct", "mre_pct", "ep_pct", "relative_energy"):
        assert key in rows[0]
    energies = [r["relative_energy"] for r in rows]
    assert energies == sorted(energies)
    table = run(approxdse_home, "list")
    assert table.returncode == 0 and "u8_bam_h2_v6" in table.stdout and "s8_mitchell" in table.stdout
    bad = run(approxdse_home, "list", "--sort", "colour")
    assert bad.returncode == 2 and bad.stderr.startswith("approxdse: error: cannot sort by 'colour'")


def test_show_with_plot(approxdse_home, tmp_path):
    png = tmp_path / "err.png"
    proc = run(approxdse_home, "show", "u8_drum_4", "--format", "json", "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["family"] == "drum" and info["params"] == {"k": 4}
    assert info["mre_pct"] == pytest.approx(multipliers.get("u8_drum_4").metrics.mre_pct)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run(approxdse_home, "show", "u8_drum4")
    assert bad.returncode == 2
    assert bad.stderr.startswith("approxdse: error: unknown multiplier 'u8_drum4'; did you mean u8_drum_4")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_import_c_model_then_use_everywhere(approxdse_home, tmp_path):
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("needs a C compiler")
    src = tmp_path / "mul8u_CLI.c"
    src.write_text("#include <stdint.h>\n// PDK45_PWR = 0.250 mW\n"
                   "uint64_t mul8u_CLI(const uint64_t B, const uint64_t A) { return (B * A) & ~3ull; }\n")
    proc = run(approxdse_home, "import", str(src), "--name", "cli_mult")
    assert proc.returncode == 0, proc.stderr
    assert "imported cli_mult" in proc.stdout
    # in-process, with the same home (the fixture set APPROXDSE_HOME)
    m = multipliers.get("cli_mult")
    v = np.arange(256)
    assert np.array_equal(m.lut, np.multiply.outer(v, v) & ~3)
    assert m.relative_energy == pytest.approx(0.25 / 0.391)
    listed = json.loads(run(approxdse_home, "list", "--unsigned", "--format", "json").stdout)
    assert "cli_mult" in [r["name"] for r in listed]
    # again without --force: exit 2, nothing changed
    before = (approxdse_home / "multipliers" / "cli_mult.yaml").read_bytes()
    again = run(approxdse_home, "import", str(src), "--name", "cli_mult", "--power-mw", "0.1")
    assert again.returncode == 2
    assert again.stderr.strip() == ("approxdse: error: a user multiplier named 'cli_mult' already exists; "
                                    "pass --force to replace it")
    assert (approxdse_home / "multipliers" / "cli_mult.yaml").read_bytes() == before
    forced = run(approxdse_home, "import", str(src), "--name", "cli_mult", "--power-mw", "0.1", "--force")
    assert forced.returncode == 0
    assert multipliers.get("cli_mult").power_mw == 0.1
    # a file that does not compile: one line, exit 2, nothing written
    broken = tmp_path / "broken.c"
    broken.write_text("uint16_t f(uint8_t a, uint8_t b) { return a * ; }\n")
    bad = run(approxdse_home, "import", str(broken), "--name", "broken")
    assert bad.returncode == 2 and bad.stderr.startswith("approxdse: error: C model")
    assert "does not compile" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (approxdse_home / "multipliers" / "broken.yaml").exists()


def test_export_formats(approxdse_home, tmp_path):
    for suffix in (".npy", ".bin", ".txt"):
        out = tmp_path / f"lut{suffix}"
        proc = run(approxdse_home, "export", "s8_etm_3", str(out))
        assert proc.returncode == 0, proc.stderr
    ref = multipliers.get("s8_etm_3").lut
    assert np.array_equal(np.load(tmp_path / "lut.npy"), ref)
    assert np.array_equal(np.fromfile(tmp_path / "lut.bin", dtype="<i2").reshape(256, 256), ref)
    assert np.array_equal(np.loadtxt(tmp_path / "lut.txt", dtype=np.int64), ref)
    bad = run(approxdse_home, "export", "s8_etm_3", str(tmp_path / "lut.xlsx"))
    assert bad.returncode == 2 and "cannot export to '.xlsx'" in bad.stderr
    assert not (tmp_path / "lut.xlsx").exists()


def test_cli_in_process(approxdse_home, tmp_path, capsys):
    from approxdse.cli import main

    assert main(["multipliers", "list", "--family", "drum", "--sort", "mre_pct", "--reverse", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["family"] for r in rows} == {"drum"} and len(rows) == 8
    assert [r["mre_pct"] for r in rows] == sorted((r["mre_pct"] for r in rows), reverse=True)
    assert main(["multipliers", "list", "--family", "booth"]) == 2
    assert "no multipliers of family 'booth'" in capsys.readouterr().err
    assert main(["multipliers", "list", "--unsigned", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("name,signed,family") and len(lines) == 1 + len(multipliers.names(signed=False))
    np.save(tmp_path / "l.npy", multipliers.get("u8_trunc_2").lut)
    assert main(["multipliers", "import", str(tmp_path / "l.npy"), "--name", "t2", "--relative-energy", "0.5"]) == 0
    assert "relative energy 0.5" in capsys.readouterr().out
    assert main(["multipliers", "show", "t2", "--format", "csv"]) == 0
    assert "lut-file" in capsys.readouterr().out
    assert main(["multipliers", "import", str(tmp_path / "l.npy"), "--name", "exact"]) == 2
    assert "built-in multiplier name" in capsys.readouterr().err
    assert main(["multipliers", "remove", "t2"]) == 0
    assert main(["multipliers", "remove", "t2"]) == 2
    assert "no user multiplier named 't2'" in capsys.readouterr().err
