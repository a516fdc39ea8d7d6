"""Tests of approxdse.core.atomic_files: the one atomic-write helper every package uses."""
from __future__ import annotations

import gzip
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from approxdse.core.atomic_files import (
    _umask,
    atomic_path,
    atomic_temp_path,
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_write_text_creates_parents_and_returns_path(tmp_path):
    target = tmp_path / "a" / "b" / "out.json"
    got = atomic_write_text(target, '{"x": "é"}\n')
    assert got == target
    assert target.read_bytes() == '{"x": "é"}\n'.encode()
    assert _names(target.parent) == ["out.json"]


def test_write_bytes_and_overwrite(tmp_path):
    target = tmp_path / "blob.bin"
    atomic_write_bytes(target, b"old contents")
    atomic_write_bytes(str(target), b"\x00\x01new")
    assert target.read_bytes() == b"\x00\x01new"
    assert _names(tmp_path) == ["blob.bin"]


def test_write_text_keeps_newlines_and_encoding(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "a\r\nb\n", encoding="latin-1")
    assert target.read_bytes() == "a\r\nb\n".encode("latin-1")
    atomic_write_text(target, "ü", encoding="latin-1")
    assert target.read_bytes() == b"\xfc"


def test_atomic_write_handle_modes(tmp_path):
    binary = tmp_path / "b.dat"
    atomic_write(binary, lambda fh: fh.write(b"raw"))
    assert binary.read_bytes() == b"raw"
    text = tmp_path / "t.json"
    atomic_write(text, lambda fh: json.dump({"k": [1, 2]}, fh), binary=False)
    assert json.loads(text.read_text()) == {"k": [1, 2]}


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_write_keeps_old_file_and_removes_temp(tmp_path, exc):
    target = tmp_path / "keep.txt"
    target.write_text("original")

    def half_write(fh):
        fh.write(b"half-writ")
        raise exc

    with pytest.raises(type(exc)):
        atomic_write(target, half_write)
    assert target.read_text() == "original"
    assert _names(tmp_path) == ["keep.txt"]


@pytest.mark.parametrize("exc", [ValueError("bad format"), KeyboardInterrupt()])
def test_atomic_path_failure_keeps_old_file_and_removes_temp(tmp_path, exc):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(type(exc)):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise exc
    assert target.read_text() == "old\n"
    assert _names(tmp_path) == ["table.csv"]


def test_failed_rename_removes_temp(tmp_path):
    target = tmp_path / "is_a_dir"
    target.mkdir()
    (target / "inside").write_text("x")  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError):
        atomic_write_text(target, "text")
    assert _names(tmp_path) == ["is_a_dir"]
    assert _names(target) == ["inside"]


def test_atomic_path_yields_hidden_temp_beside_target_with_suffix(tmp_path):
    target = tmp_path / "sub" / "front.parquet"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.startswith(".front.parquet.") and tmp.suffix == ".parquet"
        assert tmp.exists() and not target.exists()
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    assert not tmp.exists()
    assert _names(target.parent) == ["front.parquet"]


def test_atomic_temp_path_is_fresh_each_call(tmp_path):
    a, b = atomic_temp_path(tmp_path / "x.png"), atomic_temp_path(tmp_path / "x.png")
    assert a != b and a.exists() and b.exists() and a.stat().st_size == 0
    assert a.suffix == b.suffix == ".png"


def test_umask_is_read_without_change(umask_027):
    assert _umask() == 0o027
    assert _umask() == 0o027  # reading it did not reset it


@pytest.mark.parametrize("write", [
    lambda p: atomic_write_text(p, "x"),
    lambda p: atomic_write(p, lambda fh: fh.write(b"x")),
    atomic_temp_path,  # the temp file itself, before any rename
])
def test_permissions_follow_umask_not_mkstemp(tmp_path, umask_027, write):
    target = tmp_path / "perm.txt"
    out = write(target)
    made = out if isinstance(out, Path) else target
    assert stat.S_IMODE(made.stat().st_mode) == 0o640


def test_pandas_writer_infers_compression_from_suffix(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    target = tmp_path / "t.csv.gz"
    with atomic_path(target) as tmp:
        df.to_csv(tmp, index=False)
    with gzip.open(target, "rt") as fh:
        assert fh.read().splitlines()[0] == "a,b"
    pd.testing.assert_frame_equal(pd.read_csv(target), df)
    parquet = tmp_path / "t.parquet"
    with atomic_path(parquet) as tmp:
        df.to_parquet(tmp, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), df)
    assert _names(tmp_path) == ["t.csv.gz", "t.parquet"]


def test_matplotlib_savefig_through_temp_path(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    target = tmp_path / "plot.png"
    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _names(tmp_path) == ["plot.png"]


def test_concurrent_writers_never_expose_a_partial_file(tmp_path):
    target = tmp_path / "shared.txt"
    payloads = [str(i) * 50_000 for i in range(8)]
    seen: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            if target.exists():
                seen.append(target.read_text())

    def writer(text):
        for _ in range(5):
            atomic_write_text(target, text)

    r = threading.Thread(target=reader)
    r.start()
    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert target.read_text() in payloads
    assert all(s in payloads for s in seen)
    assert _names(tmp_path) == ["shared.txt"]


def test_package_entry_points_use_the_helper(tmp_path):
    """The names other modules import keep working on top of the shared helper."""
    from approxdse.accelerators.report import write_atomic as report_write
    from approxdse.dse.run import write_atomic as dse_write

    assert report_write(tmp_path / "r" / "a.txt", "text") == tmp_path / "r" / "a.txt"
    assert (tmp_path / "r" / "a.txt").read_text() == "text"
    report_write(tmp_path / "r" / "b.png", data=b"\x89PNG")
    assert (tmp_path / "r" / "b.png").read_bytes() == b"\x89PNG"
    dse_write(tmp_path / "summary.json", '{"a": 1}')
    assert json.loads((tmp_path / "summary.json").read_text()) == {"a": 1}
    assert _names(tmp_path / "r") == ["a.txt", "b.png"]


# --- OS errors become one sentence naming the path (approxdse.core.errors.OutputError) ---
from approxdse.core.atomic_files import check_writable, make_dirs  # noqa: E402
from approxdse.core.errors import ApproxDSEError, OutputError  # noqa: E402


def test_existing_folder_as_target(tmp_path):
    target = tmp_path / "some_dir"
    target.mkdir()
    with pytest.raises(OutputError, match=r"cannot write .*some_dir: it is an existing folder") as info:
        atomic_write_text(target, "x")
    assert isinstance(info.value, ApproxDSEError) and isinstance(info.value, OSError)
    assert _names(tmp_path) == ["some_dir"] and _names(target) == []
    with pytest.raises(OutputError, match="existing folder"):
        check_writable(target)
    check_writable(target, folder=True)


def test_parent_is_a_file(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    target = tmp_path / "file.txt" / "deeper" / "out.json"
    for call in (lambda: atomic_write_text(target, "x"), lambda: check_writable(target),
                 lambda: make_dirs(target.parent)):
        with pytest.raises(OutputError, match=r"file\.txt is a file, not a folder"):
            call()
    with pytest.raises(OutputError, match="a file of that name exists"):
        make_dirs(tmp_path / "file.txt")
    assert _names(tmp_path) == ["file.txt"]


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS", "EACCES"])
def test_failing_write_names_path_and_reason(tmp_path, errno_name):
    import errno

    code = getattr(errno, errno_name)
    target = tmp_path / "out.bin"

    def failing(fh):
        fh.write(b"partial")
        raise OSError(code, os.strerror(code))

    with pytest.raises(OutputError) as info:
        atomic_write(target, failing)
    assert str(info.value) == f"cannot write {target}: {os.strerror(code)[0].lower()}{os.strerror(code)[1:]}"
    assert _names(tmp_path) == []


def test_unwritable_folder(tmp_path, monkeypatch):
    """A read-only folder (simulated: the tests may run as root, who may write anywhere)."""
    import errno
    import tempfile

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match=r"cannot write .*ro/out.txt: permission denied"):
        atomic_write_text(tmp_path / "ro" / "out.txt", "x")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(OutputError, match="permission denied"):
        check_writable(tmp_path / "new" / "out.txt")


def test_cli_prints_unexpected_os_errors_as_one_line(monkeypatch, capsys):
    import errno

    from approxdse import cli

    def handler(args):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y.yaml")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    args = parser.parse_args(["multipliers", "list"])
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
    args.func = handler
    assert cli.main([]) == 2
    assert capsys.readouterr().err == "approxdse: error: /x/y.yaml: no such file or directory\n"


def test_code_fingerprint_ignores_imports_and_docs_not_code():
    from approxdse.core.code_hash import code_fingerprint

    base = 'import os\n"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x * 2  # twice\n'
    moved = '"""Other doc."""\nfrom pathlib import Path\n\n\ndef f(x):\n    import sys\n    return x*2\n'
    changed = 'import os\n"""Doc."""\n\ndef f(x):\n    return x * 3\n'
    assert code_fingerprint(base) == code_fingerprint(moved)
    assert code_fingerprint(base) != code_fingerprint(changed)


# ---------------------------------------------------------------------- targets that must not be renamed over
def test_a_link_target_is_written_through_and_stays_a_link(tmp_path):
    """``--out link`` writes the file the link points at; renaming onto the link would replace it."""
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    with atomic_path(link) as tmp:
        Path(tmp).write_text("via path\n")
    assert link.is_symlink() and real.read_text() == "via path\n"
    assert _names(tmp_path) == ["link.txt", "real.txt"]


def test_a_fifo_target_receives_the_content_and_stays_a_fifo(tmp_path):
    """A named pipe (like ``--out /dev/stdout`` into ``| head``) gets the bytes, and is not replaced
    by a regular file; no temporary file is made beside it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    atomic_write_text(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert _names(tmp_path) == ["pipe"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod needs root")
def test_a_device_target_is_written_into_not_replaced(tmp_path):
    """As root, renaming onto ``/dev/null`` or ``/dev/full`` would replace the device node with a
    regular file for every process of the machine. Copies of those devices stand in for them."""
    null, full = tmp_path / "null", tmp_path / "full"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    atomic_write_text(null, "discarded\n")
    assert stat.S_ISCHR(os.stat(null).st_mode)
    with pytest.raises(OutputError, match="cannot write .*full: no space left on device"):
        atomic_write_text(full, "x" * 10000)
    assert stat.S_ISCHR(os.stat(full).st_mode)
    assert _names(tmp_path) == ["full", "null"]
