"""The C behavioural-model loader, on C files written by the tests."""
import shutil

import numpy as np
import pytest

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers import c_model
from approxdse.multipliers.c_model import find_functions, header_figures, load_c_model
from approxdse.multipliers.multiplier import exact_lut

pytestmark = pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="needs a C compiler")

HEADER = """/***
* An 8x8 multiplier in the style of EvoApproxLib's behavioural models (written for approxdse's tests).
***/
// MAE% = 0.15 %
// PDK45_PWR = 0.289 mW
// PDK45_AREA = 543.0 um2
// PDK45_DELAY = 1.33 ns
"""

# Non-symmetric on purpose: f(x, y) != f(y, x), so rows must be the first parameter.
U64 = HEADER + """#include <stdint.h>
#include <stdlib.h>

uint64_t mul8u_ASYM(const uint64_t B,const uint64_t A)
{
  uint64_t O = B * A + (B >> 3);
  return O;
}
"""

U8 = """#include <stdint.h>
uint16_t mul8u_U8(uint8_t a, uint8_t b) { return (uint16_t)(a * b - (a & b & 1u)) + (b > 200 ? 1u : 0u); }
"""

S8 = """#include <stdint.h>
static int32_t pp(int32_t x, int i) { return (x >> i) & 1; }
/* signed broken array BAM(2, 5) as a Baugh-Wooley bit sum */
int16_t mul8s_BAM25(int8_t A, int8_t B)
{
  int32_t a = (uint8_t)A, b = (uint8_t)B, s = 0;
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 8; j++) {
      if (j < 2 || i + j < 5) continue;
      int32_t w = 1 << (i + j);
      if ((i == 7) != (j == 7)) w = -w;
      s += w * pp(a, i) * pp(b, j);
    }
  return (int16_t)s;
}
"""

# a signed circuit with EvoApproxLib's uint16_t(uint8_t, uint8_t) signature (e.g. their TM circuits)
S_AS_U16 = """#include <stdint.h>
uint16_t mul8s_TRUNC1(uint8_t A, uint8_t B)
{
  int16_t a = (int8_t)(A & 0xFE), b = (int8_t)(B & 0xFE);
  return (uint16_t)(a * b);
}
"""


@pytest.fixture
def cfile(tmp_path):
    def write(name, text):
        p = tmp_path / name
        p.write_text(text)
        return p

    return write


def test_uint64_signature_rows_are_the_first_parameter(cfile, approxdse_home):
    m = load_c_model(cfile("mul8u_ASYM.c", U64))
    v = np.arange(256)
    expected = np.multiply.outer(v, v) + (v[:, None] >> 3)
    assert not m.signed and np.array_equal(m.lut, expected)
    assert m.name == "mul8u_ASYM" and m.params["signature"] == "u64"
    assert (m.power_mw, m.area_um2, m.delay_ns) == (0.289, 543.0, 1.33)
    assert m.relative_energy == pytest.approx(0.289 / 0.391)


def test_uint8_signature(cfile, approxdse_home):
    m = load_c_model(cfile("u8.c", U8), power_mw=0.1)
    v = np.arange(256)
    expected = np.multiply.outer(v, v) - (np.bitwise_and.outer(v, v) & 1) + (v[None, :] > 200)
    assert np.array_equal(m.lut, expected)
    assert m.power_mw == 0.1 and m.relative_energy is not None


def test_int8_signature_matches_generated_bam(cfile, approxdse_home):
    m = load_c_model(cfile("bam.c", S8))
    assert m.signed
    assert np.array_equal(m.lut, multipliers.get("s8_bam_h2_v5").lut)
    # ... and hence EvoApproxLib's published figures of mul8s_1KVL (BAM bams8_02_05)
    assert round(m.metrics.mae_pct, 2) == 0.15 and round(m.metrics.mre_pct, 2) == 8.93
    assert m.metrics.wce == 449


def test_uint16_result_reinterpreted_for_signed(cfile, approxdse_home):
    m = load_c_model(cfile("t1.c", S_AS_U16))
    assert m.signed  # mul8s_ prefix
    assert np.array_equal(m.lut, multipliers.get("s8_trunc_1").lut)
    forced = load_c_model(cfile("plain_name.c", S_AS_U16.replace("mul8s_TRUNC1", "trunc1")), signed=True)
    assert np.array_equal(forced.lut, m.lut)
    with pytest.raises(ApproxDSEError, match="cannot be loaded as unsigned"):
        load_c_model(cfile("bam2.c", S8), signed=False)


def test_lut_is_cached_by_file_hash(cfile, approxdse_home, monkeypatch):
    path = cfile("mul8u_ASYM.c", U64)
    first = load_c_model(path)
    assert len(list((approxdse_home / "cache" / "c_models").glob("*.npy"))) == 1

    def no_compile(*a, **k):
        raise AssertionError("recompiled although cached")

    monkeypatch.setattr(c_model, "_compile_and_run", no_compile)
    again = load_c_model(path)
    assert np.array_equal(first.lut, again.lut)
    # a changed file is a new key
    path.write_text(U64.replace("B >> 3", "B >> 2"))
    with pytest.raises(AssertionError, match="recompiled"):
        load_c_model(path)


def test_bad_c_files(cfile, approxdse_home):
    with pytest.raises(ApproxDSEError, match="does not compile"):
        load_c_model(cfile("broken.c", "#include <stdint.h>\nuint16_t mul8u_B(uint8_t a, uint8_t b) { return a * ; }\n"))
    with pytest.raises(ApproxDSEError, match="no function of a known signature"):
        load_c_model(cfile("nofunc.c", "int add(int a, int b) { return a + b; }\n"))
    two = U8 + "uint16_t mul8u_V(uint8_t a, uint8_t b) { return a * b; }\n"
    with pytest.raises(ApproxDSEError, match="several multiplier functions"):
        load_c_model(cfile("two.c", two))
    chosen = load_c_model(cfile("two2.c", two), function="mul8u_V")
    assert np.array_equal(chosen.lut, exact_lut(False))
    with pytest.raises(ApproxDSEError, match="cannot read C model"):
        load_c_model(cfile("x.c", "") .parent / "missing.c")
    assert not list((approxdse_home / "cache" / "c_models").glob("*.tmp"))


def test_no_compiler(cfile, approxdse_home, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-xyz")
    with pytest.raises(ApproxDSEError, match="no C compiler found"):
        load_c_model(cfile("u8.c", U8), cache=False)


def test_parsing_helpers():
    assert [f.signature for f in find_functions(U64 + U8 + S8)] == ["u64", "u8", "s8"]
    assert find_functions("// uint16_t mul8u_X(uint8_t a, uint8_t b) {\n") == []  # comments ignored
    assert header_figures(HEADER) == {"power_mw": 0.289, "area_um2": 543.0, "delay_ns": 1.33}


# C models that misbehave: each runs in a child process and gives one line naming the file.
MISBEHAVING = {
    "crash": ("uint16_t mul8u_CRASH(uint8_t a, uint8_t b) { if (a == 200) *(volatile int *)0 = 1; return a * b; }",
              "crashed with SIGSEGV"),
    "hang": ("uint16_t mul8u_HANG(uint8_t a, uint8_t b) { volatile int x = 1; while (x) {} return a * b; }",
             "did not finish within 0.5 s"),
    "status": ("#include <stdlib.h>\nuint16_t mul8u_ST(uint8_t a, uint8_t b) { if (b == 9) exit(7); return a * b; }",
               "exited with status 7"),
    "early_exit0": ("#include <stdlib.h>\nuint16_t mul8u_E0(uint8_t a, uint8_t b) { if (a == 255 && b == 255) exit(0); "
                    "return a * b; }", "exited before evaluating all 65,536 operand pairs"),
}


@pytest.mark.parametrize("case", sorted(MISBEHAVING))
def test_misbehaving_c_model_gives_one_line(case, cfile, approxdse_home, monkeypatch, capsys):
    from approxdse.cli import main

    body, message = MISBEHAVING[case]
    path = cfile(f"{case}.c", "#include <stdint.h>\n" + body + "\n")
    monkeypatch.setenv(c_model.TIMEOUT_VARIABLE, "0.5")
    with pytest.raises(ApproxDSEError, match=message) as info:
        load_c_model(path, cache=False)
    assert str(path) in str(info.value)
    assert main(["multipliers", "import", str(path), "--name", f"m_{case}", "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("approxdse: error: C model ") and message in err
    assert not (approxdse_home / "catalog").exists() or not list((approxdse_home / "catalog").rglob(f"m_{case}*"))


def test_user_main_does_not_clash(cfile, approxdse_home):
    src = U8 + "int main(void) { return 5; }\n"
    m = load_c_model(cfile("withmain.c", src), cache=False)
    assert m.lut[3, 4] == 12


def test_timeout_setting_is_validated(cfile, approxdse_home, monkeypatch):
    monkeypatch.setenv(c_model.TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ApproxDSEError, match="APPROXDSE_C_MODEL_TIMEOUT must be a positive number"):
        load_c_model(cfile("u8.c", U8), cache=False)
    with pytest.raises(ApproxDSEError, match="time limit must be positive"):
        load_c_model(cfile("u8.c", U8), cache=False, timeout=0)


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGINT") or __import__("sys").platform != "linux",
                    reason="POSIX signals")
def test_ctrl_c_stops_a_hanging_c_model(cfile, tmp_path):
    """Ctrl-C (SIGINT) while a C model hangs: approxdse exits 130 and leaves no child behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    body, _ = MISBEHAVING["hang"]
    path = cfile("hang.c", "#include <stdint.h>\n" + body + "\n")
    env = {**os.environ, "APPROXDSE_HOME": str(tmp_path / "home"), c_model.TIMEOUT_VARIABLE: "600"}
    proc = subprocess.Popen([sys.executable, "-m", "approxdse", "multipliers", "import", str(path), "--name", "h"],
                            env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    parent = psutil.Process(proc.pid)
    model = None
    for _ in range(600):  # wait (up to a minute) for the compiled model to be running
        model = next((c for c in parent.children(recursive=True) if _name_or_none(c) == "model"), None)
        if model is not None or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert model is not None, proc.communicate()[1]
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert not model.is_running() or model.status() == psutil.STATUS_ZOMBIE


def _name_or_none(process):
    """A child's name, or None when it exited between the listing and the read (the compiler runs briefly)."""
    import psutil

    try:
        return process.name()
    except psutil.NoSuchProcess:
        return None
