"""approxdse.core.jsonl: strict JSON lines, torn tails repaired."""
import json
import math

import numpy as np
import pytest

from approxdse.core.jsonl import append_jsonl, dumps_record, read_jsonl, repair_jsonl


def test_append_and_read_round_trip_with_nan(tmp_path):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, [{"a": 1, "x": math.nan}, {"a": 2, "x": np.float64(2.5), "y": [math.inf, 1.0]}])
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    rows = read_jsonl(path, nan_fields=("x",))
    assert rows[0]["a"] == 1 and math.isnan(rows[0]["x"]) and rows[1]["x"] == 2.5 and rows[1]["y"] == [None, 1.0]
    assert json.loads(dumps_record({"v": float("-inf")})) == {"v": None}


@pytest.mark.parametrize("tail, kept", [
    (b'{"a": 3', 2),              # cut mid-record, no newline
    (b'{"a": 3}', 2),             # a whole record but its newline lost: still torn (cannot tell)
    (b'{"a": 3, "b": [\n', 2),    # garbage last line ending in a newline
    (b'', 2),
])
def test_torn_tail_is_cut_to_the_last_whole_record(tmp_path, capsys, tail, kept):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n' + tail)
    dropped = repair_jsonl(path)
    assert dropped == len(tail)
    assert [r["a"] for r in read_jsonl(path)] == [1, 2][:kept]
    err = capsys.readouterr().err
    assert ("removed a torn last record" in err) == bool(tail)
    append_jsonl(path, [{"a": 4}])
    assert [r["a"] for r in read_jsonl(path)] == [1, 2, 4]


def test_append_after_a_torn_tail_does_not_glue(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2, "b"')
    append_jsonl(path, [{"a": 3}])
    assert [r["a"] for r in read_jsonl(path)] == [1, 3]
    assert "torn" in capsys.readouterr().err


def test_corrupt_middle_line_is_skipped_with_a_note(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n{"a": 2}\n')
    assert [r["a"] for r in read_jsonl(path)] == [1, 2]
    assert "line 2 is not a JSON record" in capsys.readouterr().err


def test_missing_file(tmp_path):
    assert read_jsonl(tmp_path / "none.jsonl") == [] and repair_jsonl(tmp_path / "none.jsonl") == 0
