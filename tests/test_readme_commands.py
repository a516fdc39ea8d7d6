"""The README's commands run as written: every ``approxdse`` line of its ``bash`` blocks
parses with the CLI, every input file it names exists in the repository, and the cheap
ones (multipliers, the example files' energy, one zoo network) run from a copy of the
repository's layout, in README order, with a private APPROXDSE_HOME."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from approxdse.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXE = shutil.which("approxdse")

#: Commands that run here (prefixes of the README lines); the rest only parse, being long
#: jobs (training, datasets, searches) or repeats of these on bigger networks.
RUN = (
    "approxdse multipliers ",
    "approxdse energy examples/",
    "approxdse energy resnet18 --accelerator simba",
)


def readme_commands() -> list[str]:
    """The ``approxdse`` commands of the README's bash blocks, comments dropped, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    out = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            text = shlex.join(words)
            for part in text.split(" && "):
                if part.startswith("approxdse "):
                    out.append(part)
    return out


COMMANDS = readme_commands()


def test_the_readme_has_commands():
    assert len(COMMANDS) >= 15 and any(c.startswith(RUN[1]) for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_parses_and_its_inputs_exist(command, capsys):
    words = shlex.split(command)
    if ">" in words:
        words = words[: words.index(">")]
    try:
        args = build_parser().parse_args(words[1:])
    except SystemExit as exc:
        pytest.fail(f"{command!r} does not parse: {capsys.readouterr().err.strip()}")
        raise exc
    assert getattr(args, "func", None) is not None, command
    for word in words[1:]:
        path = word.split(":")[0]
        if path.startswith("examples/"):
            assert (ROOT / path).is_file(), f"{command!r} names {path}, which is not in the repository"


@pytest.mark.skipif(EXE is None or not (shutil.which("cc") or shutil.which("gcc")),
                    reason="needs the approxdse entry point and a C compiler")
def test_cheap_readme_commands_run_as_written(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    env = dict(os.environ, APPROXDSE_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    ran = []
    for command in COMMANDS:
        if not command.startswith(RUN):
            continue
        res = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, f"{command!r} failed: {res.stderr.strip()}"
        ran.append(command)
    assert len(ran) >= 7
    # what they wrote and imported
    assert (tmp_path / "err.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "drum4.bin").stat().st_size == 2 * 256 * 256
    assert (tmp_path / "home" / "multipliers" / "evo_2ndh.yaml").is_file()
