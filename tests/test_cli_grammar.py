"""One CLI grammar: every command spells its shared options the same way (``--out``,
``--format``, ``--progress/--no-progress``, ``--workers/--scheduler``), and the old
spellings still parse to the same thing for one release, with one deprecation line."""
from __future__ import annotations

import argparse

import pytest

from approxdse.cli import build_parser, main, rewrite_legacy_argv
from approxdse.emulator.cli import network_of


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(rewrite_legacy_argv(list(argv)))


def comparable(ns: argparse.Namespace) -> dict:
    out = {k: v for k, v in vars(ns).items() if k not in ("func", "network_option")}
    if ns.command == "accuracy":
        out["network"] = network_of(ns)
    return out


#: (old spelling, new spelling, the deprecation line(s) the old one prints)
ALIASES = [
    (["energy", "lenet5", "--output", "e.txt"], ["energy", "lenet5", "--out", "e.txt"],
     ["--output is deprecated, use --out"]),
    (["energy", "lenet5", "-o", "e.txt", "--no-progress"], ["energy", "lenet5", "--out", "e.txt", "--no-progress"],
     ["-o is deprecated, use --out"]),
    (["workload", "resnet20", "-o", "w.json", "--format", "json"],
     ["workload", "resnet20", "--out", "w.json", "--format", "json"], ["-o is deprecated, use --out"]),
    (["accuracy", "--network", "resnet8", "--multiplier", "u8_exact"],
     ["accuracy", "resnet8", "--multiplier", "u8_exact"], ["--network is deprecated, use the positional NETWORK"]),
    (["accuracy", "--multiplier", "u8_exact", "--quiet"], ["accuracy", "lenet5", "--multiplier", "u8_exact",
                                                           "--no-progress"],
     ["--quiet is deprecated, use --no-progress"]),
    (["search", "cfg.yaml", "--out", "runs/x", "--seed", "3"], ["search", "run", "cfg.yaml", "--out", "runs/x",
                                                                "--seed", "3"],
     ["'approxdse search CONFIG' is deprecated, use 'approxdse search run CONFIG'"]),
    (["search", "--workers", "2", "cfg.yaml", "--quiet"], ["search", "run", "cfg.yaml", "--workers", "2",
                                                           "--no-progress"],
     ["'approxdse search CONFIG' is deprecated, use 'approxdse search run CONFIG'",
      "--quiet is deprecated, use --no-progress"]),
    (["search", "cfg.yaml", "--resume", "runs/x", "--seed", "3"],
     ["search", "resume", "runs/x", "--config", "cfg.yaml", "--seed", "3"],
     ["'approxdse search [CONFIG] --resume RUN_DIR' is deprecated, "
      "use 'approxdse search resume RUN_DIR [--config CONFIG]'"]),
    (["search", "--resume=runs/x", "--scheduler", "tcp://h:1"],
     ["search", "resume", "runs/x", "--scheduler", "tcp://h:1"],
     ["'approxdse search [CONFIG] --resume RUN_DIR' is deprecated, "
      "use 'approxdse search resume RUN_DIR [--config CONFIG]'"]),
]


@pytest.mark.parametrize("old,new,warnings", ALIASES, ids=[" ".join(a[0]) for a in ALIASES])
def test_old_spellings_parse_like_the_new_ones_with_one_warning(old, new, warnings, capsys):
    expected = comparable(parse(new))
    assert capsys.readouterr().err == ""
    assert comparable(parse(old)) == expected
    assert capsys.readouterr().err.splitlines() == [f"approxdse: warning: {w}" for w in warnings]


#: Which shared options each sub-command takes.
SHARED = {
    ("multipliers", "list"): ("--format", "--out"),
    ("multipliers", "show"): ("--format", "--out"),
    ("energy",): ("--format", "--out", "--progress", "--no-progress"),
    ("workload",): ("--format", "--out"),
    ("accuracy",): ("--format", "--out", "--progress", "--no-progress"),
    ("dataset",): ("--format", "--out", "--progress", "--no-progress", "--workers", "--scheduler"),
    ("train-predictor",): ("--format", "--out"),
    ("compare",): ("--format", "--out"),
    ("search", "run"): ("--out", "--progress", "--no-progress", "--workers", "--scheduler"),
    ("search", "resume"): ("--progress", "--no-progress", "--workers", "--scheduler"),
    ("search", "report"): ("--format",),
}


@pytest.mark.parametrize("command", list(SHARED), ids=[" ".join(c) for c in SHARED])
def test_every_command_spells_the_shared_options_alike(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    text = capsys.readouterr().out
    for flag in SHARED[command]:
        assert f" {flag}" in text, (command, flag)
    for old in ("--output", "--quiet", " -o ", "--network "):  # aliases work but are not advertised
        assert old not in text, (command, old)


def test_workers_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exc:
        parse(["dataset", "--accelerator", "eyeriss", "--networks", "zoo", "--out", "d", "--workers", "0"])
    assert exc.value.code == 2 and "--workers: must be at least 1" in capsys.readouterr().err


def test_workload_and_multipliers_list_write_the_same_with_both_spellings(tmp_path, capsys):
    assert main(["workload", "lenet5", "--format", "csv", "--out", str(tmp_path / "new.csv")]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["workload", "lenet5", "--format", "csv", "--output", str(tmp_path / "old.csv")]) == 0
    assert capsys.readouterr().err == "approxdse: warning: --output is deprecated, use --out\n"
    assert (tmp_path / "old.csv").read_text() == (tmp_path / "new.csv").read_text()
    assert (tmp_path / "new.csv").read_text().startswith("name,")

    assert main(["multipliers", "list", "--unsigned", "--format", "json", "--out", str(tmp_path / "m.json")]) == 0
    assert capsys.readouterr().out == ""
    assert main(["multipliers", "list", "--unsigned", "--format", "json"]) == 0
    assert capsys.readouterr().out == (tmp_path / "m.json").read_text()


def test_search_without_an_action_prints_its_help(capsys):
    assert main(["search"]) == 0
    out = capsys.readouterr().out
    assert all(action in out for action in ("run", "resume", "report"))
