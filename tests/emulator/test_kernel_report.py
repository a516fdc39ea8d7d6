"""`approxdse accuracy` names the LUT GEMM kernel that ran (text and JSON), and without a C compiler
it says so in one line and falls back to numba (issue 13: "the report says which kernel ran";
"if a C compiler is missing, say so once and fall back; never fail")."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from approxdse.cli import main
from approxdse.emulator import backends
from approxdse.emulator.backends import native_kernel

ACCURACY = ["accuracy", "lenet5", "--multiplier", "u8_drum_4", "--epochs", "1", "--no-progress"]
HAS_CC = bool(shutil.which(os.environ.get("CC", "cc")))


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One home for the module: the 1-epoch float model is trained once."""
    return tmp_path_factory.mktemp("kernel_report_home")


@pytest.fixture
def forced(monkeypatch, home):
    """Run `approxdse accuracy` in this process with ``$APPROXDSE_CPU_KERNEL`` set to a kernel
    (the CPU backend is built afresh, so the variable counts)."""
    monkeypatch.setenv("APPROXDSE_HOME", str(home))
    monkeypatch.setattr(backends, "_INSTANCES", {})

    def run(kernel: str, *extra: str) -> str:
        monkeypatch.setenv(native_kernel.KERNEL_VARIABLE, kernel)
        assert main([*ACCURACY, *extra]) == 0
        return kernel

    return run


@pytest.mark.parametrize("kernel", ["numba", "portable"])
def test_the_json_report_names_the_kernel(kernel, forced, capsys):
    if kernel != "numba" and not HAS_CC:
        pytest.skip("native kernels need a C compiler")
    capsys.readouterr()
    forced(kernel, "--format", "json")
    report = json.loads(capsys.readouterr().out)
    assert report["cpu_kernel"] == kernel
    assert report["backend"] == "auto"


def test_the_text_report_names_the_kernel(forced, capsys):
    capsys.readouterr()
    forced("numba")
    out = capsys.readouterr().out
    assert "backend auto (LUT GEMM kernel numba), mode lut" in out


def test_the_reference_backend_runs_no_lut_gemm_kernel(forced, capsys):
    capsys.readouterr()
    forced("numba", "--backend", "reference", "--format", "json")
    assert json.loads(capsys.readouterr().out)["cpu_kernel"] is None


@pytest.fixture(scope="module")
def home_without_kernels(tmp_path_factory):
    """A home whose kernel cache stays empty (no compiler ever builds into it)."""
    return tmp_path_factory.mktemp("no_compiler_home")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["CC names a missing binary", "no cc on PATH"])
def test_without_a_compiler_the_cli_warns_once_and_falls_back(how, home_without_kernels, tmp_path):
    """The real command in a fresh process, as a user without a compiler runs it: exit 0, the report,
    and exactly one stderr line saying what is missing."""
    env = {k: v for k, v in os.environ.items() if k not in (native_kernel.KERNEL_VARIABLE, "CC")}
    env["APPROXDSE_HOME"] = str(home_without_kernels)
    if how.startswith("CC"):
        env["CC"] = str(tmp_path / "no-such-cc")
        missing = str(tmp_path / "no-such-cc")
    else:
        env["PATH"] = str(tmp_path / "empty-bin")
        missing = "cc"
    proc = subprocess.run([sys.executable, "-m", "approxdse", *ACCURACY], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "(LUT GEMM kernel numba)" in proc.stdout
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert err == [f"approxdse: warning: the C compiler {missing!r} was not found, so the native LUT GEMM "
                   "kernels cannot be built; the CPU emulator falls back to its slower numba kernel "
                   "(install a C compiler or set CC)"], proc.stderr


@pytest.mark.skipif(not HAS_CC, reason="needs a C compiler (the point: one is there, the cache folder is not)")
def test_an_unwritable_kernel_cache_is_named_not_blamed_on_the_compiler(monkeypatch, tmp_path):
    """A home that cannot hold the kernel cache (here: a file where its folder should be) falls back
    to numba with one warning naming the folder; it used to say "the C compiler 'cc' was not found"."""
    from approxdse.emulator.backends.cpu import CPUBackend

    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("APPROXDSE_HOME", str(tmp_path / "afile" / "home"))
    monkeypatch.setattr(native_kernel, "_loaded", {})
    monkeypatch.setattr(native_kernel, "_failures", {})
    monkeypatch.setattr(native_kernel, "_warned_no_compiler", False)
    monkeypatch.delenv(native_kernel.KERNEL_VARIABLE, raising=False)
    with pytest.warns(RuntimeWarning) as caught:
        assert CPUBackend().kernel == "numba"
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "cannot write the native kernel cache" in messages[0], messages
    assert "C compiler" not in messages[0]
