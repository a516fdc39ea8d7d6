"""Load an EvoApproxLib-style C behavioural model of an 8x8 multiplier.

The ``.c`` file must define a function with one of the signatures

* ``uint64_t f(uint64_t, uint64_t)`` (EvoApproxLib's unsigned circuits),
* ``uint16_t f(uint8_t, uint8_t)``,
* ``int16_t f(int8_t, int8_t)`` (signed),

``const`` qualifiers allowed. The file is compiled with the system C compiler
(``$CC``, else ``cc``, ``gcc`` or ``clang``) together with a small driver into a
temporary program, which evaluates the function on all 65,536 pairs (row =
first parameter, column = second) in a child process with a time limit
(``timeout=``, ``$APPROXDSE_C_MODEL_TIMEOUT``, default 30 s): a model that
crashes, hangs, exits non-zero or calls ``exit()`` early gives one error line
naming the file and what happened, and never takes approxdse down with it. The
LUT is cached under
``<home>/cache/c_models/`` by the SHA-256 of the file, the function and the
signedness, so a second import of the same file does not compile again.

Signedness: ``int8_t`` parameters mean signed. For the unsigned-typed
signatures the circuit is signed if ``signed=True`` is given or the function
name starts with ``mul8s`` (EvoApproxLib's prefix for signed circuits); its
operands are then passed as their 8-bit two's-complement patterns and its
result's low 16 bits are read as ``int16``. Unsigned results are read from the
low 16 bits as well (an 8x8 product has 16 bits).

Power, area and delay are read from EvoApproxLib's header comments
(``// PDK45_PWR = 0.422 mW``, ``PDK45_AREA``, ``PDK45_DELAY``) when present;
the relative energy is then the power over EvoApproxLib's exact multiplier of
the same signedness at 45 nm (0.391 mW unsigned, 0.425 mW signed).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.core.atomic_files import atomic_write
from approxdse.core.paths import cache_dir
from approxdse.multipliers.cost_model import EXACT_POWER_MW
from approxdse.multipliers.multiplier import SIZE, Multiplier, validate_lut

#: Bump when the driver changes, to invalidate cached LUTs.
DRIVER_VERSION = 2
#: Environment variable: seconds a C model may run (default :data:`DEFAULT_TIMEOUT_S`).
TIMEOUT_VARIABLE = "APPROXDSE_C_MODEL_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0

_TYPE = r"(?:const\s+)?(uint64_t|uint16_t|uint8_t|int16_t|int8_t)(?:\s+const)?"
_FUNC_RE = re.compile(
    r"(?:^|[;}\s])(?:static\s+)?(?:inline\s+)?(?:const\s+)?(uint64_t|uint16_t|int16_t)\s+(\w+)\s*\(\s*"
    + _TYPE + r"\s*\w*\s*,\s*" + _TYPE + r"\s*\w*\s*\)\s*\{",
    re.M,
)
#: (return type, parameter type) -> signature key
SIGNATURES = {
    ("uint64_t", "uint64_t"): "u64",
    ("uint16_t", "uint8_t"): "u8",
    ("int16_t", "int8_t"): "s8",
}

_FIGURE_RE = {
    "power_mw": re.compile(r"PDK45_PWR\s*=\s*([0-9.eE+-]+)\s*mW"),
    "area_um2": re.compile(r"PDK45_AREA\s*=\s*([0-9.eE+-]+)"),
    "delay_ns": re.compile(r"PDK45_DELAY\s*=\s*([0-9.eE+-]+)"),
}


@dataclass(frozen=True)
class CFunction:
    """A multiplier function found in a C file."""

    name: str
    signature: str  # "u64", "u8" or "s8"


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def find_functions(source: str) -> list[CFunction]:
    """Functions of a known multiplier signature defined in ``source``."""
    out = []
    for m in _FUNC_RE.finditer(_strip_comments(source)):
        ret, name, p1, p2 = m.groups()
        key = SIGNATURES.get((ret, p1))
        if key and p1 == p2:
            out.append(CFunction(name, key))
    return out


def header_figures(source: str, patterns=None) -> dict[str, float]:
    """Power (mW), area (um^2) and delay (ns) from EvoApproxLib's header comments (or the
    numbers that ``patterns``, ``{key: compiled regex with one group}``, find)."""
    out = {}
    for key, rx in (_FIGURE_RE if patterns is None else patterns).items():
        m = rx.search(source)
        if m:
            try:
                out[key] = float(m[1])
            except ValueError:
                pass
    return out


def find_compiler() -> str:
    """The system C compiler, or a one-sentence error."""
    candidates = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for c in candidates:
        path = shutil.which(c)
        if path:
            return path
    raise ApproxDSEError(
        "no C compiler found (tried " + ", ".join(candidates) + "); install gcc or set CC to load a C model"
    )


def _driver(path: Path, fn: CFunction, signed: bool) -> str:
    """A C program that includes the model, fills the LUT in memory and only then writes it
    (raw int32, row-major) to the file named by its first argument.

    A ``main`` in the user's file is renamed out of the way. A model that exits early
    (``exit(0)`` mid-loop) therefore leaves the output file empty, never half full.
    """
    if fn.signature == "s8":
        call = f"(int32_t){fn.name}((int8_t)(i - 128), (int8_t)(j - 128))"
    else:
        arg = "uint64_t" if fn.signature == "u64" else "uint8_t"
        if signed:
            a, b = f"({arg})(uint8_t)(int8_t)(i - 128)", f"({arg})(uint8_t)(int8_t)(j - 128)"
            call = f"(int32_t)(int16_t)(uint16_t)({fn.name}({a}, {b}) & 0xFFFFu)"
        else:
            call = f"(int32_t)({fn.name}(({arg})i, ({arg})j) & 0xFFFFu)"
    include = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return (
        "#include <stdint.h>\n"
        "#include <stdio.h>\n"
        "#define main approxdse_user_main\n"
        f'#include "{include}"\n'
        "#undef main\n"
        f"static int32_t approxdse_lut[{SIZE} * {SIZE}];\n"
        "int main(int argc, char **argv) {\n"
        "    if (argc != 2) return 3;\n"
        f"    for (int i = 0; i < {SIZE}; i++)\n"
        f"        for (int j = 0; j < {SIZE}; j++)\n"
        f"            approxdse_lut[i * {SIZE} + j] = {call};\n"
        "    FILE *out = fopen(argv[1], \"wb\");\n"
        "    if (!out) return 4;\n"
        f"    size_t n = fwrite(approxdse_lut, sizeof(int32_t), {SIZE} * {SIZE}, out);\n"
        f"    if (fclose(out) != 0 || n != {SIZE} * {SIZE}) return 4;\n"
        "    return 0;\n"
        "}\n"
    )


def default_timeout() -> float:
    """Seconds a C model may run: ``$APPROXDSE_C_MODEL_TIMEOUT``, else 30."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ApproxDSEError(f"{TIMEOUT_VARIABLE} must be a positive number of seconds, got {text!r}")
    return value


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _compile_and_run(path: Path, fn: CFunction, signed: bool, timeout: float | None = None) -> np.ndarray:
    """Compile ``path`` with a driver into a program and run it in a child process.

    The user's code never runs inside this process: a crash, a hang (past ``timeout``
    seconds), a non-zero exit or an early ``exit(0)`` becomes one :class:`ApproxDSEError`
    naming the file and what happened. Ctrl-C stops the child too.
    """
    limit = default_timeout() if timeout is None else float(timeout)
    if not limit > 0:
        raise ApproxDSEError(f"the C model time limit must be positive, got {timeout!r}")
    cc = find_compiler()
    with tempfile.TemporaryDirectory(prefix="approxdse_cmodel_") as tmp:
        driver = Path(tmp) / "driver.c"
        exe = Path(tmp) / "model"
        result = Path(tmp) / "lut.bin"
        driver.write_text(_driver(path.resolve(), fn, signed))
        proc = subprocess.run(
            [cc, "-O1", "-w", "-o", str(exe), str(driver)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            first = next((ln.strip() for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:200])
            raise ApproxDSEError(f"C model {path} does not compile: {first}")
        try:
            run = subprocess.run([str(exe), str(result)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, timeout=limit, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise ApproxDSEError(
                f"C model {path} did not finish within {limit:g} s (a hang or an endless loop in {fn.name}?); "
                f"raise the limit with --timeout or {TIMEOUT_VARIABLE}"
            ) from None
        if run.returncode < 0:
            raise ApproxDSEError(f"C model {path} crashed with {_signal_name(-run.returncode)} while evaluating {fn.name}")
        if run.returncode != 0:
            raise ApproxDSEError(f"C model {path} exited with status {run.returncode} while evaluating {fn.name}")
        expected = SIZE * SIZE * 4
        size = result.stat().st_size if result.is_file() else 0
        if size != expected:
            raise ApproxDSEError(
                f"C model {path} exited before evaluating all {SIZE * SIZE:,} operand pairs "
                f"(does {fn.name} call exit()?)"
            )
        return np.fromfile(result, dtype=np.int32).reshape(SIZE, SIZE)


def c_model_lut(
    path: str | os.PathLike, *, signed: bool | None = None, function: str | None = None, cache: bool = True,
    timeout: float | None = None,
) -> tuple[np.ndarray, bool, CFunction, str]:
    """The LUT computed by the C model at ``path``: (lut, signed, function, source text).

    The model runs in a child process for at most ``timeout`` seconds (default
    :func:`default_timeout`). The LUT is cached by the file's content hash unless ``cache=False``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ApproxDSEError(f"cannot read C model {path}: {exc.strerror or exc}") from None
    source = data.decode("utf-8", errors="replace")
    found = find_functions(source)
    if function is not None:
        found = [f for f in found if f.name == function]
        if not found:
            raise ApproxDSEError(f"{path} defines no function {function!r} with a supported multiplier signature")
    if not found:
        raise ApproxDSEError(
            f"{path} defines no function of a known signature (uint64_t f(uint64_t, uint64_t), "
            "uint16_t f(uint8_t, uint8_t) or int16_t f(int8_t, int8_t))"
        )
    if len(found) > 1:
        raise ApproxDSEError(
            f"{path} defines several multiplier functions ({', '.join(f.name for f in found)}); choose one with function="
        )
    fn = found[0]
    if fn.signature == "s8":
        if signed is False:
            raise ApproxDSEError(f"{fn.name} takes int8_t operands, so it cannot be loaded as unsigned")
        signed = True
    elif signed is None:
        signed = fn.name.lower().startswith("mul8s")
    signed = bool(signed)

    key = hashlib.sha256(data + f"|{fn.name}|{fn.signature}|{signed}|{DRIVER_VERSION}".encode()).hexdigest()
    cache_file = None
    if cache:
        cache_file = cache_dir("c_models") / f"{key}.npy"
        if cache_file.is_file():
            try:
                lut = np.load(cache_file, allow_pickle=False)
                return validate_lut(lut, signed=signed, name=f"cached LUT of {path}"), signed, fn, source
            except Exception:
                cache_file.unlink(missing_ok=True)  # corrupt cache entry: rebuild
    lut = validate_lut(_compile_and_run(path, fn, signed, timeout=timeout), signed=signed, name=f"LUT computed by {path}")
    if cache_file is not None:
        data32 = np.ascontiguousarray(lut, dtype=np.int32)
        try:
            atomic_write(cache_file, lambda fh: np.save(fh, data32))
        except OSError:
            pass  # an unwritable or full cache folder only costs a recompile next time
    return lut, signed, fn, source


def load_c_model(
    path: str | os.PathLike,
    name: str | None = None,
    *,
    signed: bool | None = None,
    function: str | None = None,
    power_mw: float | None = None,
    area_um2: float | None = None,
    delay_ns: float | None = None,
    relative_energy: float | None = None,
    cache: bool = True,
    timeout: float | None = None,
) -> Multiplier:
    """A :class:`Multiplier` from an EvoApproxLib-style C file (see the module docstring).

    Figures given as arguments override those in the file's header. ``timeout``
    limits the seconds the model may run (see :func:`c_model_lut`). Without a
    relative energy or a power, ``relative_energy`` is None (unknown).
    """
    lut, signed, fn, source = c_model_lut(path, signed=signed, function=function, cache=cache, timeout=timeout)
    figures = header_figures(source)
    for key, value in (("power_mw", power_mw), ("area_um2", area_um2), ("delay_ns", delay_ns)):
        if value is not None:
            figures[key] = float(value)
    if relative_energy is None and figures.get("power_mw") is not None:
        relative_energy = figures["power_mw"] / EXACT_POWER_MW[signed]
    return Multiplier(
        name=name or fn.name,
        signed=signed,
        lut=lut,
        family="c-model",
        params={"function": fn.name, "signature": fn.signature},
        relative_energy=relative_energy,
        power_mw=figures.get("power_mw"),
        area_um2=figures.get("area_um2"),
        delay_ns=figures.get("delay_ns"),
        provenance=f"C behavioural model {Path(path).name} (function {fn.name})",
    )
