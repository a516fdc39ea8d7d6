"""``approxdse multipliers import-dir``: EvoApproxLib-style checkouts of both versions, written
here with our own small C models in the library's style (header comments, folder layout,
``meta.json``), are imported with their version detected, fingerprints recorded, version
mismatches warned about and signed circuits with unsigned C types flagged."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.evoapprox_dir import Fingerprint, find_circuits, import_dir, published
from approxdse.multipliers.multiplier import exact_lut
from approxdse.multipliers.user_catalog import user_dir

pytestmark = pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a C compiler")


def _header(mae=None, power=None):
    lines = ["/***", "* A test circuit written for approxdse in the EvoApproxLib file style.", "***/"]
    if mae is not None:
        lines.append(f"// MAE% = {mae} %")
    if power is not None:
        lines += [f"// PDK45_PWR = {power} mW", "// PDK45_AREA = 100.0 um2", "// PDK45_DELAY = 1.00 ns"]
    return "\n".join(lines) + "\n#include <stdint.h>\n\n"


def exact_u8(name, **h):
    return _header(**h) + f"uint16_t {name}(uint8_t a, uint8_t b)\n{{\n   return (uint16_t)a * (uint16_t)b;\n}}\n"


def zero_u64(name, **h):
    # Every output bit tied to 0, as the library's cheapest circuits are.
    body = "".join(f"   O |= (0&1) << {i};\n" for i in range(16))
    return _header(**h) + f"uint64_t {name}(const uint64_t B,const uint64_t A)\n{{\n   uint64_t O = 0;\n{body}   return O;\n}}\n"


def truncated_u64(name, **h):
    # Partial products of the two low operand bits dropped.
    return _header(**h) + (
        f"uint64_t {name}(const uint64_t B,const uint64_t A)\n{{\n"
        "   return ((B >> 2) * A) << 2;\n}\n")


def exact_s8(name, **h):
    return _header(**h) + f"int16_t {name}(int8_t A, int8_t B)\n{{\n   return (int16_t)A * (int16_t)B;\n}}\n"


def signed_with_unsigned_types(name, **h):
    # A signed product computed on the operands' bit patterns: the C types say unsigned.
    return _header(**h) + (
        f"uint16_t {name}(uint8_t A, uint8_t B)\n{{\n"
        "   return (uint16_t)((int16_t)(int8_t)A * (int16_t)(int8_t)B);\n}\n")


def _write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


U, S = "multiplers/8x8_unsigned", "multiplers/8x8_signed"


@pytest.fixture
def master_tree(tmp_path):
    root = tmp_path / "evoapproxlib-master"
    _write(root, f"{U}/pareto_pwr_mae/mul8u_1JFF.c", exact_u8("mul8u_1JFF", mae="0.00", power="0.391"))
    for folder in ("pareto_pwr_mae", "pareto_pwr_wce"):  # one circuit in two Pareto sets
        _write(root, f"{U}/{folder}/mul8u_E9R.c", zero_u64("mul8u_E9R", mae="24.81"))
    _write(root, f"{U}/pareto_pwr_mse/mul8u_17C8.c", truncated_u64("mul8u_17C8", power="0.0019"))
    _write(root, f"{S}/pareto_pwr_mae/mul8s_1KV8.c", exact_s8("mul8s_1KV8", power="0.425"))
    _write(root, f"{S}/pareto_pwr_ep/mul8s_1L2H.c", signed_with_unsigned_types("mul8s_1L2H", power="0.301"))
    _write(root, f"{U}/pareto_pwr_mae/mul8u_1JFF.v", "// not a C model\n")
    # The master checkout's index: power/area/delay for circuits whose header has none.
    meta = [{"datasets": [{"bitwidth": 8, "datasets": [{"folder": f"{U}/pareto_pwr_mae", "instances": [
        {"name": "mul8u_E9R", "params": {"pwr": "0.0", "area": "0.0", "delay": "0.0", "mae%": "24.81"}},
        {"name": "mul8u_1JFF", "params": {"pwr": "0.999", "area": "709.6", "delay": "1.43"}},
    ]}]}]}]
    _write(root, "meta.json", json.dumps(meta))
    _write(root, "adders/8_unsigned/pareto_pwr_mae/add8u_0FP.c", "uint16_t add8u_0FP(uint8_t a, uint8_t b) { return a + b; }\n")
    return root


@pytest.fixture
def v2022_tree(tmp_path):
    root = tmp_path / "evoapproxlib-v2022"
    _write(root, f"{U}/pareto_pwr_mae/mul8u_1JJQ.c", exact_u8("mul8u_1JJQ", power="0.391"))
    _write(root, f"{U}/pareto_pwr_ep/mul8u_TD3.c", zero_u64("mul8u_TD3"))
    _write(root, f"{S}/pareto_pwr_mae/mul8s_1KV6.c", exact_s8("mul8s_1KV6", power="0.425"))
    # The exact circuit under the name that is approximate on v2022 (as on master).
    _write(root, f"{S}/pareto_pwr_mre/mul8s_1KV8.c", exact_s8("mul8s_1KV8", power="0.425"))
    _write(root, f"{S}/pareto_pwr_wce/mul8s_1L2N.c", signed_with_unsigned_types("mul8s_1L2N", power="0.126"))
    # A folder-level meta.json with the figures of the header-less circuit.
    _write(root, f"{U}/pareto_pwr_ep/meta.json", json.dumps(
        {"instances": [{"name": "mul8u_TD3", "params": {"pwr": "0.000", "area": "0.0", "delay": "0.00"}}]}))
    return root


def _entry(name):
    return yaml.safe_load((user_dir() / f"{name}.yaml").read_text())


def test_master_tree(master_tree, approxdse_home):
    report = import_dir(master_tree)
    assert report.version == "master" and report.version_source.startswith("detected (3 of 5")
    by = {c.name: c for c in report.circuits}
    assert sorted(by) == ["mul8s_1KV8", "mul8s_1L2H", "mul8u_17C8", "mul8u_1JFF", "mul8u_E9R"]
    assert all(c.status == "imported" for c in report.circuits)
    # Figures: the header wins over meta.json; meta.json fills a header without them.
    assert by["mul8u_1JFF"].multiplier.power_mw == 0.391
    assert by["mul8u_E9R"].multiplier.power_mw == 0.0 and by["mul8u_E9R"].multiplier.relative_energy == 0.0
    assert by["mul8u_E9R"].fingerprint.mae_pct == pytest.approx(24.81, abs=0.01)
    assert by["mul8s_1KV8"].matches == ("master",)
    e = _entry("mul8s_1KV8")
    assert e["family"] == "evoapproxlib"
    assert e["params"]["library_version"] == "master" and e["params"]["matches"] == ["master"]
    assert e["params"]["fingerprint"] == {"mae_pct": 0.0, "wce_pct": 0.0, "power_mw": 0.425}
    # The truncated circuit is not master's mul8u_17C8 (MAE 7.41%): warned, still imported.
    assert any(w.startswith("mul8u_17C8: its fingerprint") and "differs from EvoApproxLib master's mul8u_17C8 "
               "(MAE 7.41%" in w for w in report.warnings)
    # Signed circuit declared with unsigned C types: flagged, loaded as signed.
    assert _entry("mul8s_1L2H")["params"]["unsigned_c_types"] is True
    assert any(w.startswith("mul8s_1L2H is signed but its C function takes unsigned types") for w in report.warnings)
    m = multipliers.get("mul8s_1L2H")
    assert m.signed and np.array_equal(m.lut, exact_lut(True))
    assert "unsigned_c_types" not in _entry("mul8s_1KV8")["params"]


def test_v2022_tree_warns_about_a_name_that_means_another_circuit(v2022_tree, approxdse_home):
    report = import_dir(v2022_tree)
    assert report.version == "v2022"
    by = {c.name: c for c in report.circuits}
    assert by["mul8u_TD3"].multiplier.power_mw == 0.0  # from the folder's meta.json
    assert by["mul8s_1KV6"].matches == ("v2022",) and by["mul8s_1KV8"].matches == ("master",)
    warning = next(w for w in report.warnings if w.startswith("mul8s_1KV8"))
    assert "differs from EvoApproxLib v2022's mul8s_1KV8 (MAE 0.0018%" in warning
    assert warning.endswith("it matches master's mul8s_1KV8")
    assert _entry("mul8s_1KV8")["params"]["library_version"] == "v2022"
    assert _entry("mul8s_1L2N")["params"]["unsigned_c_types"] is True
    assert not any(w.startswith(("mul8u_1JJQ", "mul8u_TD3", "mul8s_1KV6")) for w in report.warnings)


def test_given_version_dry_run_force_and_existing(master_tree, approxdse_home):
    dry = import_dir(master_tree, version="v2022", dry_run=True)
    assert dry.version == "v2022" and dry.version_source == "given"
    assert not user_dir().exists() or not list(user_dir().glob("*.yaml"))
    assert any(w.startswith("mul8s_1KV8: its fingerprint") for w in dry.warnings)  # exact != v2022's 1KV8
    import_dir(master_tree)
    again = import_dir(master_tree)
    assert {c.status for c in again.circuits} == {"exists"}
    assert {c.status for c in import_dir(master_tree, force=True).circuits} == {"replaced"}
    with pytest.raises(ApproxDSEError, match="unknown EvoApproxLib version 'v2019'"):
        import_dir(master_tree, version="v2019")


def test_bad_trees(tmp_path, approxdse_home):
    with pytest.raises(ApproxDSEError, match="is not a folder"):
        find_circuits(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ApproxDSEError, match="no 8x8 multiplier C models"):
        find_circuits(tmp_path / "empty")
    root = tmp_path / "clash"
    _write(root, f"{U}/a/mul8u_XYZ.c", exact_u8("mul8u_XYZ"))
    _write(root, f"{U}/b/mul8u_XYZ.c", zero_u64("mul8u_XYZ"))
    with pytest.raises(ApproxDSEError, match="mul8u_XYZ has different C models in"):
        find_circuits(root)
    broken = tmp_path / "broken"
    _write(broken, f"{U}/a/mul8u_BAD.c", "uint16_t mul8u_BAD(uint8_t a, uint8_t b) { return a * ; }\n")
    _write(broken, f"{U}/a/mul8u_1JJQ.c", exact_u8("mul8u_1JJQ"))
    report = import_dir(broken)
    assert {c.name: c.status for c in report.circuits} == {"mul8u_BAD": "failed", "mul8u_1JJQ": "imported"}
    assert any(w.startswith("mul8u_BAD: not imported: C model") for w in report.warnings)


def test_published_table_has_both_versions():
    table = published()
    assert len(table["master"]) == 49 and len(table["v2022"]) == 50
    assert table["master"]["mul8u_17C8"].mae_pct == 7.41 and table["v2022"]["mul8u_17C8"].mae_pct == 0.56
    assert Fingerprint(0.0, 0.0, 0.425).matches(table["master"]["mul8s_1KV8"])
    assert not Fingerprint(0.0, 0.0, 0.425).matches(table["v2022"]["mul8s_1KV8"])


def test_cli(v2022_tree, approxdse_home):
    cmd = [sys.executable, "-m", "approxdse", "multipliers", "import-dir", str(v2022_tree)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("EvoApproxLib v2022, detected (") and "5 of 5 multipliers imported into" in last
    assert "approxdse: warning: mul8s_1KV8: its fingerprint" in out.stderr
    assert "unsigned C types" in out.stdout
    bad = subprocess.run(cmd[:-1] + [str(v2022_tree / "nope")], capture_output=True, text=True)
    assert bad.returncode == 2 and "is not a folder" in bad.stderr
