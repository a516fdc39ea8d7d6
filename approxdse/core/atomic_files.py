"""Write files atomically: to a temporary file in the same folder, then rename.

An interrupted or failed write (any exception, Ctrl-C included) never leaves a
half-written file under the target name, and removes its temporary file. The
temporary file lies beside the target (so the final ``os.replace`` is a rename
within one file system) and gets the permissions a plain ``open(path, "w")``
would give (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
Missing parent folders are created.

Every OS error on the way (read-only folder, full disk, the target is an existing
folder, a parent is a file) becomes one :class:`~approxdse.core.errors.OutputError`
(an ``ApproxDSEError`` and an ``OSError``) naming the target and the reason, which the
CLI prints as one line with exit status 2. :func:`make_dirs` creates output folders
the same way, and :func:`check_writable` tells before a long job whether its output
can be written at all.

Three ways in, by how the writer wants its output:

* :func:`atomic_write_text` / :func:`atomic_write_bytes`: the content is at hand.
* :func:`atomic_write`: a callable that writes to an open file handle
  (``np.save``, ``json.dump``, ...).
* :func:`atomic_path`: a context manager yielding a temporary *path* with the
  target's suffix, for writers that take a file name and may infer the format
  from it (``DataFrame.to_parquet`` / ``to_csv``, ``Figure.savefig``,
  ``torch.save``).
"""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
import contextlib
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable

from approxdse.core.errors import OutputError, os_error_reason

__all__ = [
    "atomic_path", "atomic_temp_path", "atomic_write", "atomic_write_bytes", "atomic_write_text",
    "check_writable", "make_dirs", "remove_stale_temps",
]


def _blocking_parent(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a folder (a file in the way)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _output_error(path: Path, exc: OSError, *, what: str = "write") -> OutputError:
    """One sentence for an OS error while writing ``path``."""
    if isinstance(exc, OutputError):
        return exc
    if what == "write" and path.is_dir():
        reason = "it is an existing folder (give a file name)"
    else:
        blocker = _blocking_parent(path)
        if blocker is not None:
            reason = f"{blocker} is a file, not a folder"
        else:
            reason = os_error_reason(exc)
            named = exc.filename if isinstance(exc.filename, str) else None
            if named and Path(named) != path and Path(named).parent != path.parent and Path(named) not in path.parents:
                reason += f" ({named})"
            elif named and Path(named) in path.parents:
                reason += f" (folder {named})"
    return OutputError(f"cannot {what} {path}: {reason}")


def make_dirs(path: str | os.PathLike) -> Path:
    """Create the folder ``path`` and its parents (fine if it exists); OS errors -> :class:`OutputError`."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if path.exists() and not path.is_dir():
            raise OutputError(f"cannot create folder {path}: a file of that name exists") from None
        raise _output_error(path, exc, what="create folder") from None
    return path


def check_writable(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """Raise :class:`OutputError` now if ``path`` (a file, or a folder with ``folder=True``)
    obviously cannot be written: a file target that is an existing folder, a folder target
    that is an existing file, a parent that is a file, or a nearest existing folder that
    is not writable. Creates nothing. Returns ``path``.
    """
    path = Path(path)
    what = "create folder" if folder else "write"
    if path.exists():
        if folder and not path.is_dir():
            raise OutputError(f"cannot create folder {path}: a file of that name exists")
        if not folder and path.is_dir():
            raise OutputError(f"cannot write {path}: it is an existing folder (give a file name)")
    blocker = _blocking_parent(path)
    if blocker is not None:
        raise OutputError(f"cannot {what} {path}: {blocker} is a file, not a folder")
    existing = path if folder and path.is_dir() else next((p for p in path.parents if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot {what} {path}: permission denied (folder {existing})")
    return path


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        status = Path("/proc/self/status").read_text()
        found = re.search(r"^Umask:\s*([0-7]+)", status, re.MULTILINE)
        if found:
            return int(found.group(1), 8)
    except OSError:
        pass
    # Elsewhere the only way is to set it and set it back (briefly process-wide).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_beside(path: Path, suffix: str, *, in_temp_dir: bool = False) -> Path:
    """Create an empty, closed temporary file beside ``path`` (umask permissions); return its path.
    ``in_temp_dir``: in the system's temporary folder instead."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is an existing folder (give a file name)")
    try:
        if not in_temp_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=None if in_temp_dir else path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        raise _output_error(path, exc) from None
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_temp_path(path: str | os.PathLike) -> Path:
    """A fresh, empty temporary file beside ``path`` whose name ends in ``path``'s suffix.

    The caller renames it onto ``path`` (``os.replace``) or deletes it;
    :func:`atomic_path` does both for you.
    """
    path = Path(path)
    return _temp_beside(path, f".tmp{path.suffix}")


def _not_renamable(path: Path) -> bool:
    """Whether ``path`` is a symbolic link or an existing device, pipe or socket (``/dev/null``,
    ``/dev/stdout``, a FIFO): renaming onto it would replace the link or the device node itself,
    so the content is copied into it instead."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path.is_symlink()
    return path.is_symlink() or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _copy_into(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)


@contextmanager
def _replacing(path: Path, suffix: str) -> Iterator[Path]:
    """Yield a temporary file beside ``path`` (name ending in ``suffix``); rename it onto
    ``path`` on a clean exit, delete it on any exception. A link or device target (see
    :func:`_not_renamable`) gets the content written through it, the temporary file
    lying in the system's temporary folder."""
    special = _not_renamable(path)
    tmp = _temp_beside(path, suffix, in_temp_dir=special)
    try:
        yield tmp
        if special:
            _copy_into(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        named = exc.filename if isinstance(exc.filename, str) else None
        if named is None or Path(named) in (tmp, path):
            raise _output_error(path, exc) from exc
        raise  # an error about another file (e.g. one the writer reads)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_path(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """A context manager yielding a temporary path beside ``path``, moved onto ``path`` on a clean exit.

    The temporary name ends in ``path``'s suffix, so writers that infer the
    format from it (pandas compression, matplotlib) behave as for ``path``.
    On any exception the temporary file is removed and ``path`` is untouched::

        with atomic_path("table.parquet") as tmp:
            df.to_parquet(tmp, index=False)
    """
    path = Path(path)
    return _replacing(path, f".tmp{path.suffix}")


#: The name of a temporary file :func:`_temp_beside` makes for target NAME: ``.NAME.XXXXXXXX.tmp[.suffix]``.
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp(\.[^./]*)?$")


def remove_stale_temps(folder: str | os.PathLike, pattern: str = "*") -> list[Path]:
    """Delete the temporary files that writes of targets named like ``pattern`` (a glob on the
    target's name) left in ``folder`` when their process was killed (SIGKILL runs no cleanup);
    returns what was deleted. For resuming a folder this process owns: a temporary file of a
    writer still running in the folder would go too."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        found = _TEMP_NAME.match(entry.name)
        if found and fnmatch.fnmatchcase(found["target"], pattern) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], Any], *, binary: bool = True,
                 encoding: str = "utf-8") -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then move it to ``path``.

    ``fh`` is opened in binary mode, or in text mode with ``encoding`` when
    ``binary`` is false. Returns ``path``.
    """
    path = Path(path)
    with _replacing(path, ".tmp") as tmp:
        with open(tmp, "wb") if binary else open(tmp, "w", encoding=encoding) as fh:
            write(fh)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (``encoding``, no newline translation); returns ``path``."""
    return atomic_write(path, lambda fh: fh.write(text.encode(encoding)))
