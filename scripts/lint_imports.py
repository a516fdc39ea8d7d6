"""Check the import-linter contracts of pyproject.toml (``[tool.importlinter]``).

import-linter finds a package's modules by walking its folder, but approxdse's
subpackages live in separate top-level folders mapped into the namespace by
``[tool.setuptools.package-dir]``. This script lays that namespace out as a
temporary tree of symbolic links (``approxdse/multipliers -> multipliers/`` ...)
and runs ``lint-imports`` on it, so the contracts see every module.

    python scripts/lint_imports.py          (exit status of lint-imports)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_tree(dest: Path) -> None:
    """Mirror the installed ``approxdse`` namespace under ``dest`` with symlinks."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = config["tool"]["setuptools"]["package-dir"]
    top = dest / "approxdse"
    top.mkdir()
    for entry in (ROOT / package_dir["approxdse"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in package_dir.items():
        if package == "approxdse":
            continue
        target = dest.joinpath(*package.split("."))
        if target.exists():
            raise SystemExit(f"lint_imports: {package} is both a folder of approxdse/ and mapped to {folder}/")
        target.symlink_to(ROOT / folder)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="approxdse-lint-") as tmp:
        build_tree(Path(tmp))
        env = dict(os.environ, PYTHONPATH=tmp)
        # cwd=tmp: lint-imports puts the working directory first on sys.path
        # the lint-imports command of this interpreter's import-linter (no PATH lookup)
        cmd = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
               "sys.exit(c())", str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"]
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
