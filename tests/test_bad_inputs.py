"""Bad input, one row a case: every command answers with one ``approxdse: error:`` line and exit 2,
and leaves nothing behind (no new file or folder in the working directory or the home).

Each row: (case id, argv, expected exit, fragment of the error line[, options]). argv may use
``{w}`` (the prepared working folder). Options: ``env`` (variables to set), ``fault`` (an injected
OS error), ``catalog_warnings`` (the one-line warnings that listing the user catalog gives for its
two broken entries), ``needs_cc`` (a C compiler), ``usage`` (argparse refuses the value: its usage
lines, then one ``approxdse CMD: error:`` line).
The classes follow the 174 cases tried for issue 14: unknown names, malformed/empty YAML, wrong
LUT shapes and types, negative or zero sizes, missing files, unwritable outputs, corrupt run
folders, catalogs and model files, and misbehaving C models; and, for every file-taking flag of
every command, a missing file, a folder, an empty file, a non-UTF-8 file, a malformed one, and a
full disk under every command that writes. Runs in-process (approxdse.cli.main).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from approxdse.cli import main

HAS_CC = bool(shutil.which("cc") or shutil.which("gcc") or os.environ.get("CC"))

CASES = [
    # ---- unknown names
    ("unknown-network", ["energy", "no_such_net"], 2, "unknown network 'no_such_net'"),
    ("unknown-accelerator", ["energy", "lenet5", "--accelerator", "no_such_acc"], 2, "unknown accelerator"),
    ("unknown-multiplier", ["energy", "lenet5", "--multiplier", "no_such_mult"], 2, "unknown multiplier"),
    ("unknown-compare-multiplier", ["energy", "lenet5", "--compare-multipliers", "u8_exact,nope"], 2,
     "unknown multiplier 'nope'"),
    ("unknown-workload-network", ["workload", "no_such_net"], 2, "unknown network"),
    ("unknown-show", ["multipliers", "show", "nope"], 2, "unknown multiplier 'nope'"),
    ("generated-name-bad-params", ["multipliers", "show", "u8_drum_0"], 2, "parameter k of family 'drum'"),
    ("unknown-family", ["multipliers", "list", "--family", "nope"], 2, "no multipliers of family 'nope'",
     {"catalog_warnings": 2}),
    ("unknown-sort-key", ["multipliers", "list", "--sort", "nope"], 2, "cannot sort by 'nope'",
     {"catalog_warnings": 2}),
    ("unknown-export", ["multipliers", "export", "nope", "out.npy"], 2, "unknown multiplier 'nope'"),
    ("remove-builtin", ["multipliers", "remove", "u8_exact"], 2, "no user multiplier named 'u8_exact'"),
    ("dataset-unknown-accelerator", ["dataset", "--out", "d", "--accelerator", "nope", "--networks", "lenet5",
                                     "--multipliers", "u8_exact"], 2, "unknown accelerator 'nope'"),
    ("dataset-unknown-network", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "nonet",
                                 "--multipliers", "u8_exact"], 2, "unknown network 'nonet'"),
    ("dataset-unknown-multiplier", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5",
                                    "--multipliers", "nope"], 2, "unknown multiplier 'nope'"),
    ("accuracy-unknown-network", ["accuracy", "nonet", "--multiplier", "u8_exact"], 2,
     "unknown network 'nonet'"),
    ("accuracy-unknown-dataset", ["accuracy", "--dataset", "nods", "--multiplier", "u8_exact"], 2,
     "unknown dataset 'nods'"),
    ("accuracy-unknown-multiplier", ["accuracy", "--multiplier", "nope"], 2, "unknown multiplier 'nope'"),
    ("sweep-unknown-multiplier", ["accuracy", "--sweep", "--multipliers", "nope"], 2, "unknown multiplier 'nope'"),
    ("layers-unknown-multiplier", ["accuracy", "--layers", "layers_bad.yaml"], 2, "unknown multiplier 'no_such_mult'"),
    # ---- malformed, empty, wrong-kind YAML
    ("arch-bad-yaml", ["energy", "lenet5", "--accelerator", "bad.yaml"], 2, "is not valid YAML"),
    ("arch-not-mapping", ["energy", "lenet5", "--accelerator", "list.yaml"], 2, "must be a mapping"),
    ("search-bad-yaml", ["search", "run", "bad.yaml"], 2, "search config 'bad.yaml' is not valid YAML at line 2"),
    ("search-not-mapping", ["search", "run", "list.yaml"], 2, "must be a mapping"),
    ("search-screen-mode", ["search", "run", "screen_bad.yaml"], 2,
     "screening.mode must be one of off, skip, audit, got 'sometimes'"),
    ("search-screen-margin", ["search", "run", "screen_margin.yaml"], 2, "screening.margin must be > 1.0"),
    ("search-empty", ["search", "run", "empty.yaml", "--out", "run"], 2, "search config 'empty.yaml' is empty"),
    ("search-comment-only", ["search", "run", "comment.yaml"], 2, "is empty"),
    ("layers-bad-yaml", ["accuracy", "--layers", "bad.yaml"], 2, "layer file 'bad.yaml' is not valid YAML at line 2"),
    ("user-catalog-corrupt-yaml-show", ["multipliers", "show", "broken"], 2,
     "user multiplier file {w}/home/multipliers/broken.yaml is not valid YAML at line 2"),
    # ---- wrong LUT shapes, types, values
    ("lut-small", ["multipliers", "import", "small.npy", "--name", "x"], 2, "needs a 256x256 table"),
    ("lut-text-shape", ["multipliers", "import", "text.txt", "--name", "x"], 2, "needs a 256x256 table"),
    ("lut-bin-size", ["multipliers", "import", "short.bin", "--name", "x"], 2, "a TFApprox LUT holds 65536"),
    ("lut-negative-unsigned", ["multipliers", "import", "neg.npy", "--name", "x", "--unsigned"], 2,
     "holds negative products but was given as unsigned"),
    ("lut-suffix", ["multipliers", "import", "lut.xyz", "--name", "x"], 2, "unsupported file type '.xyz'"),
    ("export-suffix", ["multipliers", "export", "u8_exact", "out.xyz"], 2, "cannot export to '.xyz'"),
    # ---- names
    ("name-builtin", ["multipliers", "import", "lut.npy", "--name", "u8_exact"], 2, "is a built-in multiplier name"),
    ("name-builtin-case", ["multipliers", "import", "lut.npy", "--name", "U8_DRUM_4"], 2,
     "differs from the built-in multiplier 'u8_drum_4' only in case"),
    ("name-user-case", ["multipliers", "import", "lut.npy", "--name", "NOENERGY"], 2,
     "a user multiplier named 'noenergy' already exists and names are unique ignoring case"),
    ("name-user-taken", ["multipliers", "import", "lut.npy", "--name", "noenergy"], 2, "pass --force"),
    ("name-invalid", ["multipliers", "import", "lut.npy", "--name", "bad/name"], 2, "invalid multiplier name"),
    # ---- negative / zero sizes and numbers
    ("shape-negative", ["energy", "lenet5", "--input-shape", "1,-3,32,32"], 2, "must be positive N,C,H,W"),
    ("shape-zero", ["energy", "lenet5", "--input-shape", "0,1,28,28"], 2, "must be positive"),
    ("shape-not-int", ["energy", "lenet5", "--input-shape", "a,b"], 2, "is not a list of integers"),
    ("energy-negative", ["multipliers", "import", "lut.npy", "--name", "x", "--relative-energy", "-1"], 2,
     "must be a non-negative number"),
    ("power-nan", ["multipliers", "import", "lut.npy", "--name", "x", "--power-mw", "nan"], 2,
     "must be a non-negative number"),
    ("area-negative", ["multipliers", "import", "lut.npy", "--name", "x", "--area-um2", "-1"], 2,
     "area (um2) of 'x' must be a non-negative number, got -1.0"),
    ("delay-nan", ["multipliers", "import", "lut.npy", "--name", "x", "--delay-ns", "nan"], 2,
     "delay (ns) of 'x' must be a non-negative number, got nan"),
    ("power-negative", ["multipliers", "import", "lut.npy", "--name", "x", "--power-mw", "-1"], 2,
     "power (mW) of 'x' must be a non-negative number, got -1.0"),
    ("dataset-workers-0", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5",
                           "--multipliers", "u8_exact", "--workers", "0"], 2, "argument --workers: must be at least 1",
     {"usage": True}),
    ("dataset-seed-negative", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5",
                               "--multipliers", "u8_exact", "--seed", "-1"], 2, "--seed must be a non-negative"),
    ("dataset-chunk-0", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5",
                         "--multipliers", "u8_exact", "--chunk-size", "0"], 2, "chunk size must be at least 1"),
    ("dataset-unknown-mapper", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5",
                                "--multipliers", "u8_exact", "--mapper", "greedy"], 2,
     "argument --mapper: invalid choice: 'greedy'", {"usage": True}),
    ("estimators-0", ["train-predictor", "--data", "some_dir", "--kind", "xgboost", "--accelerator", "eyeriss",
                      "--out", "p.json", "--n-estimators", "0"], 2, "--n-estimators must be a positive integer"),
    ("reference-networks-negative", ["compare", "--predictor", "garbage.json", "--data", "some_dir",
                                     "--reference-networks", "-1"], 2, "must be non-negative"),
    ("epochs-0", ["accuracy", "--multiplier", "u8_exact", "--epochs", "0"], 2, "--epochs must be at least 1"),
    ("fine-tune-negative", ["accuracy", "--multiplier", "u8_exact", "--fine-tune", "-1"], 2,
     "--fine-tune must be at least 0"),
    ("search-workers-0", ["search", "run", "empty.yaml", "--workers", "0"], 2, "argument --workers: must be at least 1",
     {"usage": True}),
    # ---- missing files and folders
    ("arch-missing", ["energy", "lenet5", "--accelerator", "missing.yaml"], 2, "'missing.yaml' does not exist"),
    ("network-file-missing", ["energy", "missing.py"], 2, "network file 'missing.py' does not exist"),
    ("lut-missing", ["multipliers", "import", "missing.npy", "--name", "x"], 2, "no such file: missing.npy"),
    ("search-config-missing", ["search", "run", "missing.yaml"], 2, "search config 'missing.yaml' does not exist"),
    ("search-run-missing", ["search", "resume", "missing_run"], 2, "is not a search run directory"),
    ("report-run-missing", ["search", "report", "missing_run"], 2, "is not a search run directory"),
    ("layers-missing", ["accuracy", "--layers", "missing.yaml"], 2, "layer file 'missing.yaml' does not exist"),
    ("dataset-missing", ["train-predictor", "--data", "missing_ds", "--kind", "summing", "--accelerator", "eyeriss",
                         "--out", "p.json"], 2, "dataset directory 'missing_ds' does not exist"),
    ("dataset-not-a-dataset", ["train-predictor", "--data", "some_dir", "--kind", "summing", "--accelerator",
                               "eyeriss", "--out", "p.json"], 2, "is not a dataset"),
    ("model-missing", ["compare", "--predictor", "missing.json", "--data", "some_dir"], 2,
     "predictor model 'missing.json' does not exist"),
    ("energy-predictor-missing", ["energy", "lenet5", "--predictor", "missing.json"], 2,
     "predictor model 'missing.json' does not exist"),
    ("energy-predictor-unknown", ["energy", "lenet5", "--predictor", "forest"], 2,
     "--predictor must be summing, learned or a model file"),
    ("energy-predictor-with-mapping", ["energy", "lenet5", "--predictor", "summing", "--mapping", "m.yaml"], 2,
     "--mapping needs the reference; drop --predictor"),
    ("user-lut-missing", ["multipliers", "show", "lostlut"], 2, "user multiplier 'lostlut' has lost its LUT file"),
    ("user-lut-missing-energy", ["energy", "lenet5", "--multiplier", "lostlut"], 2, "has lost its LUT file"),
    # ---- unwritable outputs
    ("energy-output-is-dir", ["energy", "lenet5", "--out", "some_dir"], 2,
     "cannot write some_dir: it is an existing folder"),
    ("energy-output-parent-file", ["energy", "lenet5", "--out", "afile/x.txt"], 2,
     "cannot write afile/x.txt: afile is a file, not a folder"),
    ("energy-plot-is-dir", ["energy", "lenet5", "--plot", "some_dir.png"], 2, "it is an existing folder"),
    ("energy-plot-not-png", ["energy", "lenet5", "--plot", "p.txt"], 2, "does not end in .png"),
    ("energy-output-disk-full", ["energy", "lenet5", "--out", "out.txt"], 2,
     "cannot write out.txt: no space left on device", {"fault": "ENOSPC"}),
    ("energy-output-read-only", ["energy", "lenet5", "--out", "out.txt"], 2,
     "cannot write out.txt: read-only file system", {"fault": "EROFS"}),
    ("workload-output-is-dir", ["workload", "lenet5", "--out", "some_dir"], 2, "it is an existing folder"),
    ("workload-timeloop-dir-is-file", ["workload", "lenet5", "--timeloop-dir", "afile"], 2,
     "cannot create folder afile: a file of that name exists"),
    ("workload-timeloop-dir-parent-file", ["workload", "lenet5", "--timeloop-dir", "afile/sub"], 2,
     "afile is a file, not a folder"),
    ("export-to-dir", ["multipliers", "export", "u8_exact", "some_dir"], 2, "it is an existing folder"),
    ("export-parent-file", ["multipliers", "export", "u8_exact", "afile/o.npy"], 2, "afile is a file, not a folder"),
    ("export-disk-full", ["multipliers", "export", "u8_exact", "o.npy"], 2, "cannot write o.npy: no space left",
     {"fault": "ENOSPC"}),
    ("show-plot-to-dir", ["multipliers", "show", "u8_exact", "--plot", "some_dir.png"], 2, "it is an existing folder"),
    ("show-plot-parent-file", ["multipliers", "show", "u8_exact", "--plot", "afile/p.png"], 2, "afile is a file"),
    ("import-home-is-file", ["multipliers", "import", "lut.npy", "--name", "fresh"], 2,
     "cannot write {w}/afile/home/multipliers/fresh.npy: {w}/afile is a file, not a folder",
     {"env": {"APPROXDSE_HOME": "{w}/afile/home"}}),
    ("import-home-read-only", ["multipliers", "import", "lut.npy", "--name", "fresh"], 2,
     "multipliers/fresh.npy: permission denied", {"fault": "EACCES"}),
    ("dataset-out-is-file", ["dataset", "--out", "afile", "--accelerator", "eyeriss", "--networks", "lenet5",
                             "--multipliers", "u8_exact"], 2, "cannot create folder afile: a file of that name exists"),
    ("dataset-out-parent-file", ["dataset", "--out", "afile/d", "--accelerator", "eyeriss", "--networks", "lenet5",
                                 "--multipliers", "u8_exact"], 2, "afile is a file, not a folder"),
    ("train-out-pickle", ["train-predictor", "--data", "some_dir", "--kind", "summing", "--accelerator", "eyeriss",
                          "--out", "p.pkl"], 2, "must end in .json (JSON) or .ubj (UBJSON)"),
    ("compare-plot-to-dir", ["compare", "--predictor", "model_bad_b.json", "--data", "some_dir", "--plot",
                             "some_dir.png"], 2, "it is an existing folder"),
    ("search-out-is-file", ["search", "run", "comment.yaml", "--out", "afile"], 2, "a file of that name exists"),
    ("sweep-out-is-file", ["accuracy", "--sweep", "--multipliers", "u8_exact", "--out", "afile"], 2,
     "exists and is not a directory"),
    ("sweep-out-parent-file", ["accuracy", "--sweep", "--multipliers", "u8_exact", "--out", "afile/s"], 2,
     "afile is a file, not a folder"),
    # ---- corrupt model files, run folders, catalogs
    ("model-not-json", ["compare", "--predictor", "garbage.json", "--data", "some_dir"], 2, "is corrupt"),
    ("model-not-a-model", ["compare", "--predictor", "notmodel.json", "--data", "some_dir"], 2,
     "is not an approxdse predictor model"),
    ("model-unknown-kind", ["compare", "--predictor", "wrongkind.json", "--data", "some_dir"], 2,
     "unknown predictor kind 'magic'"),
    ("model-summing-bad-field", ["compare", "--predictor", "model_bad_b.json", "--data", "some_dir"], 2,
     "is corrupt (field 'b' must be a finite number, got 'abc')"),
    ("model-summing-missing-field", ["compare", "--predictor", "model_no_a.json", "--data", "some_dir"], 2,
     "is corrupt (field 'a' is missing)"),
    ("model-summing-bad-anchors", ["compare", "--predictor", "model_bad_anchors.json", "--data", "some_dir"], 2,
     "field 'anchors' must be a mapping"),
    ("run-corrupt-checkpoint", ["search", "resume", "run_corrupt", "--no-progress"], 2,
     "checkpoint.json is corrupt (line 1: Expecting property name enclosed in double quotes); delete it"),
    ("run-corrupt-checkpoint-report", ["search", "report", "run_corrupt_logged"], 2, "checkpoint.json is corrupt"),
    ("dataset-multiplier-without-energy", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks",
                                           "lenet5", "--multipliers", "noenergy"], 2,
     "multiplier 'noenergy' has no energy figure"),
    ("dataset-manifest-corrupt", ["train-predictor", "--data", "ds_corrupt", "--kind", "summing", "--accelerator",
                                  "eyeriss", "--out", "p.json"], 2, "the manifest of dataset 'ds_corrupt' is corrupt"),
    # ---- C models
    ("c-no-function", ["multipliers", "import", "notc.c", "--name", "x"], 2, "defines no function of a known signature",
     {"needs_cc": True}),
    ("c-does-not-compile", ["multipliers", "import", "broken.c", "--name", "x"], 2, "does not compile",
     {"needs_cc": True}),
    ("c-crash", ["multipliers", "import", "crash.c", "--name", "x"], 2, "C model crash.c crashed with SIGSEGV",
     {"needs_cc": True}),
    ("c-hang", ["multipliers", "import", "hang.c", "--name", "x", "--timeout", "0.3"], 2,
     "C model hang.c did not finish within 0.3 s", {"needs_cc": True}),
    ("c-exit-status", ["multipliers", "import", "exit3.c", "--name", "x"], 2, "exited with status 3",
     {"needs_cc": True}),
    ("c-early-exit0", ["multipliers", "import", "exit0.c", "--name", "x"], 2, "exited before evaluating all",
     {"needs_cc": True}),
    ("c-bad-timeout-env", ["multipliers", "import", "exit0.c", "--name", "x"], 2,
     "APPROXDSE_C_MODEL_TIMEOUT must be a positive number", {"needs_cc": True,
                                                             "env": {"APPROXDSE_C_MODEL_TIMEOUT": "-1"}}),
    # ---- every file-taking flag of every command: missing, a folder, empty, not text, not YAML/JSON
    ("mapping-missing-multilayer", ["energy", "lenet5", "--mapping", "missing.yaml"], 2,
     "mapping file 'missing.yaml' does not exist"),
    ("mapping-missing", ["energy", "layer.yaml", "--mapping", "missing.yaml"], 2,
     "mapping file 'missing.yaml' does not exist"),
    ("mapping-empty", ["energy", "lenet5", "--mapping", "empty.yaml"], 2, "mapping file 'empty.yaml' has no 'mapping:' list"),
    ("mapping-bad-yaml", ["energy", "lenet5", "--mapping", "bad.yaml"], 2, "mapping file 'bad.yaml' is not valid YAML"),
    ("mapping-is-dir", ["energy", "lenet5", "--mapping", "some_dir"], 2, "mapping file 'some_dir' is a folder, not a file"),
    ("mapping-not-text", ["energy", "lenet5", "--mapping", "bin.yaml"], 2, "mapping file 'bin.yaml' is not a text file"),
    ("mapping-multilayer", ["energy", "lenet5", "--mapping", "map.yaml"], 2, "one mapping was given for 5 layers"),
    ("mapping-unknown-level", ["energy", "layer.yaml", "--mapping", "map_bad_level.yaml"], 2,
     "target 'X' is not a level of architecture 'eyeriss'"),
    ("compare-mapping-missing", ["energy", "lenet5", "--compare-multipliers", "u8_exact,u8_drum_4", "--mapping",
                                 "missing.yaml"], 2, "mapping file 'missing.yaml' does not exist"),
    ("arch-empty", ["energy", "lenet5", "--accelerator", "empty.yaml"], 2, "must be a mapping"),
    ("arch-is-dir", ["energy", "lenet5", "--accelerator", "some_dir.yaml"], 2,
     "architecture file 'some_dir.yaml' is a folder, not a file"),
    ("arch-not-text", ["energy", "lenet5", "--accelerator", "bin.yaml"], 2,
     "architecture file 'bin.yaml' is not a text file (byte 1 is not UTF-8)"),
    ("network-py-no-factory", ["energy", "net.py"], 2, "network file 'net.py' names no factory"),
    ("network-py-unknown-factory", ["energy", "net.py:nope"], 2, "has no function 'nope'"),
    ("network-py-raises", ["energy", "raises.py:f"], 2, "importing 'raises.py' failed: RuntimeError: boom"),
    ("network-onnx-corrupt", ["energy", "bad.onnx"], 2, "bad.onnx"),
    ("problem-empty", ["energy", "empty.yaml"], 2, "problem file 'empty.yaml' has no 'problem' mapping"),
    ("problem-not-text", ["energy", "bin.yaml"], 2, "problem file 'bin.yaml' is not a text file"),
    ("problem-bad-yaml", ["energy", "bad.yaml"], 2, "problem file 'bad.yaml' is not valid YAML"),
    ("problem-folder-empty", ["energy", "some_dir"], 2, "folder 'some_dir' has no .yaml problem files"),
    ("workload-py-no-factory", ["workload", "net.py"], 2, "names no factory"),
    ("workload-problem-not-text", ["workload", "bin.yaml"], 2, "is not a text file"),
    ("workload-output-disk-full", ["workload", "lenet5", "--out", "w.json", "--format", "json"], 2,
     "cannot write w.json: no space left on device", {"fault": "ENOSPC"}),
    ("import-is-dir", ["multipliers", "import", "dir.npy", "--name", "x"], 2, "dir.npy is a folder, not a multiplier file"),
    ("lut-npy-empty", ["multipliers", "import", "empty.npy", "--name", "x"], 2,
     "empty.npy is not a readable .npy array (the file is empty or cut short)"),
    ("lut-npy-cut", ["multipliers", "import", "cut.npy", "--name", "x"], 2, "cut.npy is not a readable .npy array"),
    ("lut-npy-garbage", ["multipliers", "import", "garbage.npy", "--name", "x"], 2, "is not a readable .npy array"),
    ("lut-npy-float", ["multipliers", "import", "float.npy", "--name", "x"], 2, "holds non-integer values"),
    ("lut-txt-empty", ["multipliers", "import", "empty.txt", "--name", "x"], 2, "needs a 256x256 table"),
    ("lut-txt-not-text", ["multipliers", "import", "bin.txt", "--name", "x"], 2, "bin.txt is not a table of numbers"),
    ("c-empty", ["multipliers", "import", "empty.c", "--name", "x"], 2, "defines no function of a known signature"),
    ("c-missing", ["multipliers", "import", "missing.c", "--name", "x"], 2, "no such file: missing.c"),
    ("list-out-is-dir", ["multipliers", "list", "--out", "some_dir"], 2, "cannot write some_dir: it is an existing folder",
     {"catalog_warnings": 2}),
    ("show-out-is-dir", ["multipliers", "show", "u8_exact", "--out", "some_dir"], 2, "it is an existing folder"),
    ("show-out-disk-full", ["multipliers", "show", "u8_exact", "--out", "s.txt"], 2, "cannot write s.txt: no space left",
     {"fault": "ENOSPC"}),
    ("layers-empty", ["accuracy", "--layers", "empty.yaml"], 2, "must be a non-empty mapping of layer name"),
    ("layers-not-mapping", ["accuracy", "--layers", "list.yaml"], 2, "must be a non-empty mapping of layer name"),
    ("layers-is-dir", ["accuracy", "--layers", "some_dir"], 2, "layer file 'some_dir' is a folder, not a file"),
    ("layers-not-text", ["accuracy", "--layers", "bin.yaml"], 2, "layer file 'bin.yaml' is not a text file"),
    ("layers-not-names", ["accuracy", "--layers", "layers_int.yaml"], 2, "need a multiplier name (a string)"),
    ("data-dir-missing", ["accuracy", "--dataset", "mnist", "--data-dir", "missing_dir", "--multiplier", "u8_exact"], 2,
     "mnist data directory 'missing_dir' does not exist"),
    ("data-dir-is-file", ["accuracy", "--dataset", "mnist", "--data-dir", "afile", "--multiplier", "u8_exact"], 2,
     "mnist data directory 'afile' does not exist"),
    ("data-dir-lacks-files", ["accuracy", "--dataset", "mnist", "--data-dir", "some_dir", "--multiplier", "u8_exact"],
     2, "MNIST directory 'some_dir' lacks train-images-idx3-ubyte"),
    ("data-dir-corrupt-idx", ["accuracy", "--dataset", "mnist", "--data-dir", "mnist_bad", "--multiplier", "u8_exact"],
     2, "is not an IDX file (bad magic number)"),
    ("data-dir-cifar-cut", ["accuracy", "--dataset", "cifar10", "--data-dir", "cifar_bad", "--multiplier",
                            "u8_exact"], 2, "not a whole number of 3073-byte records"),
    ("data-dir-digits-needs-none", ["accuracy", "--dataset", "mnist", "--multiplier", "u8_exact"], 2,
     "is read from files: pass the directory that holds them (--data-dir)"),
    ("accuracy-out-is-dir", ["accuracy", "--multiplier", "u8_exact", "--out", "some_dir"], 2,
     "cannot write some_dir: it is an existing folder"),
    ("accuracy-out-parent-file", ["accuracy", "--multiplier", "u8_exact", "--out", "afile/r.txt"], 2,
     "afile is a file, not a folder"),
    ("train-data-is-file", ["train-predictor", "--data", "afile", "--kind", "summing", "--accelerator", "eyeriss",
                            "--out", "p.json"], 2, "dataset directory 'afile' is a file, not a dataset folder"),
    ("train-manifest-not-text", ["train-predictor", "--data", "ds_binary_manifest", "--kind", "summing",
                                 "--accelerator", "eyeriss", "--out", "p.json"], 2, "is corrupt"),
    ("train-part-corrupt", ["train-predictor", "--data", "ds_bad_part", "--kind", "summing", "--accelerator",
                            "eyeriss", "--out", "p.json"], 2, "is unreadable (ArrowInvalid)"),
    ("train-no-energy-rows", ["train-predictor", "--data", "ds_no_rows", "--kind", "summing", "--accelerator",
                              "eyeriss", "--out", "p.json"], 2, "holds no energy rows yet"),
    ("train-out-is-dir", ["train-predictor", "--data", "ds", "--kind", "summing", "--accelerator", "eyeriss",
                          "--out", "some_dir.json"], 2, "cannot write some_dir.json: it is an existing folder"),
    ("train-out-parent-file", ["train-predictor", "--data", "ds", "--kind", "summing", "--accelerator", "eyeriss",
                               "--out", "afile/p.json"], 2, "afile is a file, not a folder"),
    ("train-out-disk-full", ["train-predictor", "--data", "ds", "--kind", "summing", "--accelerator", "eyeriss",
                             "--out", "p.json"], 2, "cannot write p.json: no space left", {"fault": "ENOSPC"}),
    ("dataset-resume-part-corrupt", ["dataset", "--out", "ds_bad_part", "--accelerator", "eyeriss", "--networks",
                                     "lenet5", "--multipliers", "u8_exact"], 2, "is unreadable (ArrowInvalid); delete it"),
    ("model-is-dir", ["compare", "--predictor", "some_dir", "--data", "ds"], 2,
     "predictor model 'some_dir' is a folder, not a model file"),
    ("model-empty", ["compare", "--predictor", "empty.json", "--data", "ds"], 2, "predictor model 'empty.json' is corrupt"),
    ("model-not-text", ["compare", "--predictor", "bin.json", "--data", "ds"], 2, "predictor model 'bin.json' is corrupt"),
    ("compare-data-is-file", ["compare", "--predictor", "model.json", "--data", "afile"], 2, "is a file, not a dataset"),
    ("compare-part-corrupt", ["compare", "--predictor", "model.json", "--data", "ds_bad_part"], 2, "is unreadable"),
    ("compare-out-is-dir", ["compare", "--predictor", "model.json", "--data", "ds", "--out", "some_dir"], 2,
     "cannot write some_dir: it is an existing folder"),
    ("search-config-is-dir", ["search", "run", "some_dir"], 2, "search config 'some_dir' is a folder, not a file"),
    ("search-config-not-text", ["search", "run", "bin.yaml"], 2, "search config 'bin.yaml' is not a text file"),
    ("search-config-unknown-key", ["search", "run", "s_unknown_key.yaml"], 2, "unknown key 'nam' at the top level"),
    ("search-predictor-missing", ["search", "run", "s_pred_missing.yaml", "--out", "run"], 2,
     "energy.predictor file '{w}/missing.json' does not exist"),
    ("search-predictor-corrupt", ["search", "run", "s_pred_corrupt.yaml", "--out", "run"], 2,
     "predictor model '{w}/garbage.json' is corrupt"),
    ("search-predictor-corrupt-default-out", ["search", "run", "s_pred_corrupt.yaml"], 2, "is corrupt"),
    ("search-dataset-missing", ["search", "run", "s_data_missing.yaml", "--out", "run"], 2,
     "mnist data directory 'missing_dir' does not exist"),
    ("search-unknown-multiplier", ["search", "run", "s_unknown_mult.yaml", "--out", "run"], 2, "unknown multiplier 'nope'"),
    ("resume-run-is-file", ["search", "resume", "afile"], 2, "'afile' is not a search run directory"),
    ("resume-config-missing", ["search", "resume", "run_corrupt", "--config", "missing.yaml"], 2,
     "search config 'missing.yaml' does not exist"),
    ("resume-config-empty", ["search", "resume", "run_corrupt", "--config", "empty.yaml"], 2, "is empty"),
    ("resume-config-differs", ["search", "resume", "run_empty_checkpoint", "--config", "s_unknown_mult_ok.yaml"], 2,
     "the config differs from the one"),
    ("resume-run-config-not-text", ["search", "resume", "run_binary_config"], 2, "is not a text file"),
    ("resume-checkpoint-empty", ["search", "resume", "run_empty_checkpoint"], 2,
     "checkpoint.json is corrupt (line 1: Expecting value)"),
    ("resume-checkpoint-not-object", ["search", "resume", "run_list_checkpoint"], 2, "is corrupt (not a JSON object)"),
    ("report-run-config-not-text", ["search", "report", "run_binary_config"], 2, "is not a text file"),
    ("report-checkpoint-not-object", ["search", "report", "run_list_checkpoint"], 2, "is corrupt (not a JSON object)"),
    ("report-no-candidates", ["search", "report", "run_no_log"], 2, "has no evaluated candidates yet"),
    ("arch-no-name", ["energy", "lenet5", "--accelerator", "arch_levels.yaml"], 2,
     "architecture.name: must be a non-empty string"),
    ("arch-unknown-key", ["energy", "lenet5", "--accelerator", "arch_unknown.yaml"], 2,
     "architecture.x: unknown key"),
    ("onnx-missing", ["energy", "missing.onnx"], 2, "ONNX model missing.onnx does not exist"),
    ("input-too-small", ["energy", "lenet5", "--input-shape", "1,1,2,2"], 2, "is too small for a 5x5 kernel"),
    ("network-forward-fails", ["energy", "badfwd.py:f", "--input-shape", "1,3,8,8"], 2,
     "the forward pass of 'badfwd:f' on an input of shape (1, 3, 8, 8) failed: bad forward"),
    ("network-no-layers", ["workload", "noconv.py:f", "--input-shape", "1,3,8,8"], 2, "ran no Conv1d, Conv2d, Linear"),
    # ---- a full disk under every command that writes (every atomic rename fails)
    ("dataset-disk-full", ["dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5",
                           "--multipliers", "u8_exact"], 2, "no space left on device", {"fault": "ENOSPC"}),
    ("compare-out-disk-full", ["compare", "--predictor", "model.json", "--data", "ds", "--reference-networks", "0",
                               "--out", "c.txt"], 2, "cannot write c.txt: no space left", {"fault": "ENOSPC"}),
    ("search-disk-full", ["search", "run", "s_small.yaml", "--out", "run"], 2, "no space left on device",
     {"fault": "ENOSPC"}),
    ("accuracy-disk-full", ["accuracy", "--multiplier", "u8_exact", "--epochs", "1", "--out", "a.txt", "--no-progress"], 2,
     "no space left on device", {"fault": "ENOSPC"}),
    ("sweep-disk-full", ["accuracy", "--sweep", "--multipliers", "u8_exact", "--epochs", "1", "--out", "sw",
                         "--no-progress"], 2,
     "no space left on device", {"fault": "ENOSPC"}),
    ("list-out-disk-full", ["multipliers", "list", "--out", "l.txt"], 2, "cannot write l.txt: no space left",
     {"fault": "ENOSPC", "catalog_warnings": 2}),
    # ---- argument combinations
    ("sweep-with-multiplier", ["accuracy", "--sweep", "--multiplier", "u8_exact"], 2, "--sweep takes --multipliers"),
    ("accuracy-no-multiplier", ["accuracy"], 2, "name a multiplier with --multiplier NAME"),
]

# A corrupt user-catalog YAML does not block the catalog: `list` warns in one line and goes on.
WARNING_CASES = [
    ("user-catalog-corrupt-yaml-list", ["multipliers", "list"], "skipping a user multiplier: user multiplier file"),
]


def _write_world(w: Path) -> None:
    from approxdse.dse.config import SearchConfig
    from approxdse.multipliers import importing
    from approxdse.predictors.dataset import generate_dataset
    from approxdse.predictors.io import FORMAT, FORMAT_VERSION

    (w / "some_dir").mkdir()
    (w / "some_dir.png").mkdir()
    (w / "afile").write_text("x\n")
    v = np.arange(256)
    np.save(w / "lut.npy", np.multiply.outer(v, v).astype(np.int32))
    np.save(w / "small.npy", np.zeros((16, 16), dtype=np.int32))
    np.save(w / "neg.npy", -np.ones((256, 256), dtype=np.int32))
    (w / "lut.xyz").write_text("x")
    (w / "text.txt").write_text("1 2 3\n")
    (w / "short.bin").write_bytes(b"\0" * 100)
    (w / "bad.yaml").write_text("a: [b\n")
    (w / "list.yaml").write_text("- 1\n- 2\n")
    (w / "empty.yaml").write_text("")
    (w / "comment.yaml").write_text("# nothing here\n")
    (w / "screen_bad.yaml").write_text("dataset: {name: digits}\nscreening: {mode: sometimes}\n")
    (w / "screen_margin.yaml").write_text("dataset: {name: digits}\nscreening: {margin: 0.5}\n")
    (w / "layers_bad.yaml").write_text("conv1: no_such_mult\n")
    (w / "garbage.json").write_text("{nope")
    (w / "notmodel.json").write_text("[1, 2]")
    base = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": "summing", "accelerator": "eyeriss",
            "form": "free", "a": 1.0, "b": 2.0, "c": None, "anchors": {}}
    (w / "wrongkind.json").write_text(json.dumps({**base, "kind": "magic"}))
    (w / "model_bad_b.json").write_text(json.dumps({**base, "b": "abc"}))
    (w / "model_no_a.json").write_text(json.dumps({k: v for k, v in base.items() if k != "a"}))
    (w / "model_bad_anchors.json").write_text(json.dumps({**base, "anchors": [1, 2]}))
    c_head = "#include <stdint.h>\n#include <stdlib.h>\n"
    (w / "notc.c").write_text("int add(int a, int b) { return a + b; }\n")
    (w / "broken.c").write_text(c_head + "uint16_t mul8u_B(uint8_t a, uint8_t b) { return a * ; }\n")
    (w / "crash.c").write_text(c_head + "uint16_t mul8u_C(uint8_t a, uint8_t b) "
                               "{ if (a == 200) *(volatile int *)0 = 1; return a * b; }\n")
    (w / "hang.c").write_text(c_head + "uint16_t mul8u_H(uint8_t a, uint8_t b) "
                              "{ volatile int x = 1; while (x) {} return a * b; }\n")
    (w / "exit3.c").write_text(c_head + "uint16_t mul8u_E(uint8_t a, uint8_t b) { if (b == 7) exit(3); return a * b; }\n")
    (w / "exit0.c").write_text(c_head + "uint16_t mul8u_Z(uint8_t a, uint8_t b) { if (a == 9) exit(0); return a * b; }\n")
    # inputs of every file-taking flag: a folder, a non-UTF-8 file, empty files, a .py without factory
    (w / "some_dir.yaml").mkdir()
    (w / "dir.npy").mkdir()
    (w / "some_dir.json").mkdir()
    (w / "bin.yaml").write_bytes(b"a\xff\xfe: 1\n")
    (w / "bin.json").write_bytes(b"\xff\xfe{")
    (w / "bin.txt").write_bytes(b"\xff\xfe\n")
    (w / "empty.json").write_text("")
    (w / "empty.npy").write_bytes(b"")
    (w / "empty.txt").write_text("")
    (w / "empty.c").write_text("")
    (w / "cut.npy").write_bytes((w / "lut.npy").read_bytes()[:100])
    (w / "garbage.npy").write_text("garbage\n")
    np.save(w / "float.npy", np.full((256, 256), 0.5))
    (w / "layers_int.yaml").write_text("conv1: 3\n")
    (w / "net.py").write_text("x = 1\n")
    (w / "raises.py").write_text("raise RuntimeError('boom')\n")
    (w / "bad.onnx").write_bytes(b"garbage")
    (w / "arch_levels.yaml").write_text("levels: 3\n")
    (w / "arch_unknown.yaml").write_text("x: 1\n")
    (w / "badfwd.py").write_text("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
                                 "        raise ValueError('bad forward')\ndef f():\n    return M()\n")
    (w / "noconv.py").write_text("import torch\ndef f():\n    return torch.nn.Identity()\n")
    (w / "layer.yaml").write_text(yaml.safe_dump({"problem": {"version": 0.4, "instance": {
        "C": 8, "M": 8, "N": 1, "P": 4, "Q": 4, "R": 3, "S": 3}}}))
    (w / "map.yaml").write_text("mapping:\n  - {target: DRAM, type: temporal, factors: C1, permutation: C}\n")
    (w / "map_bad_level.yaml").write_text("mapping:\n  - {target: X, type: temporal}\n")
    (w / "mnist_bad").mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (w / "mnist_bad" / stem).write_text("garbage\n")
    (w / "cifar_bad").mkdir()
    for name in (*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"):
        (w / "cifar_bad" / name).write_bytes(b"\0" * 5000)
    # search configs that fail on what they point at
    small = {"name": "t", "dataset": {"name": "digits"}, "energy": {"predictor": "multiplications"},
             "algorithm": {"population": 4, "generations": 1}}
    (w / "s_unknown_key.yaml").write_text("nam: x\n")
    (w / "s_small.yaml").write_text(yaml.safe_dump(small))
    (w / "s_pred_missing.yaml").write_text(yaml.safe_dump({**small, "energy": {"predictor": "missing.json"}}))
    (w / "s_pred_corrupt.yaml").write_text(yaml.safe_dump({**small, "energy": {"predictor": "garbage.json"}}))
    (w / "s_data_missing.yaml").write_text(yaml.safe_dump(
        {**small, "dataset": {"name": "mnist", "options": {"root": "missing_dir"}}}))
    (w / "s_unknown_mult.yaml").write_text(yaml.safe_dump(
        {**small, "space": {"multipliers": {"names": ["nope"]}}}))
    (w / "s_unknown_mult_ok.yaml").write_text(yaml.safe_dump({**small, "name": "other"}))
    small_cfg = SearchConfig.from_dict(small).to_yaml()
    for run, checkpoint in (("run_empty_checkpoint", ""), ("run_list_checkpoint", "[1]"), ("run_binary_config", None),
                            ("run_no_log", None)):
        (w / run).mkdir()
        (w / run / "config.yaml").write_text(small_cfg)
        if checkpoint is not None:
            (w / run / "checkpoint.json").write_text(checkpoint)
    (w / "run_binary_config" / "config.yaml").write_bytes(b"name: \xff\n")
    # a real dataset and model, and broken copies
    generate_dataset(w / "ds", "eyeriss", "lenet5", "u8_exact", workers=1, progress=False)
    for name in ("ds_bad_part", "ds_binary_manifest", "ds_no_rows"):
        shutil.copytree(w / "ds", w / name)
    next((w / "ds_bad_part" / "energy").glob("part-*.parquet")).write_text("garbage")
    (w / "ds_binary_manifest" / "manifest.json").write_bytes(b"\xff\xfe")
    for part in (w / "ds_no_rows" / "energy").glob("part-*.parquet"):
        part.unlink()
    (w / "model.json").write_text(json.dumps(base))
    # the user catalog: one without energy, one whose LUT is gone, one whose YAML is corrupt
    for name in ("noenergy", "lostlut", "broken"):
        importing.import_multiplier(w / "lut.npy", name)
    (w / "home" / "multipliers" / "lostlut.npy").unlink()
    (w / "home" / "multipliers" / "broken.yaml").write_text("{name: [broken\n")
    # run folders with a corrupt checkpoint
    cfg = SearchConfig.from_dict({"name": "t", "dataset": {"name": "digits"},
                                  "energy": {"predictor": "multiplications"}})
    for run in ("run_corrupt", "run_corrupt_logged"):
        (w / run).mkdir()
        (w / run / "config.yaml").write_text(cfg.to_yaml())
        (w / run / "checkpoint.json").write_text("{ torn")
    (w / "run_corrupt_logged" / "candidates.jsonl").write_text(json.dumps({
        "generation": 0, "index": 0, "phase": "search", "key": "k", "genome_key": "g", "status": "ok",
        "feasible": True, "energy": 1.0, "accuracy": 0.5, "error": 0.5, "exact": True, "multiplier": "u8_exact",
        "multipliers": "[\"u8_exact\"]", "cached": False}) + "\n")
    (w / "run_foreign").mkdir()
    (w / "run_foreign" / "config.yaml").write_text(cfg.to_yaml())
    row = {**json.loads((w / "run_corrupt_logged" / "candidates.jsonl").read_text()), "params": 10, "macs": 100,
           "n_layers": 2}
    (w / "run_foreign" / "candidates.jsonl").write_text(json.dumps(row) + "\n" + json.dumps({"a": 1}) + "\n")
    (w / "ds_corrupt").mkdir()
    (w / "ds_corrupt" / "manifest.json").write_text("{ torn")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = tmp_path_factory.mktemp("bad_inputs")
    old = os.environ.get("APPROXDSE_HOME")
    os.environ["APPROXDSE_HOME"] = str(w / "home")
    try:
        _write_world(w)
    finally:
        if old is None:
            os.environ.pop("APPROXDSE_HOME", None)
        else:
            os.environ["APPROXDSE_HOME"] = old
    yaml.safe_load("a: 1")  # warm imports outside the listing
    return w


def _listing(w: Path) -> set[str]:
    return {str(p.relative_to(w)) for p in w.rglob("*") if "cache" not in p.relative_to(w).parts}


def _inject(monkeypatch, fault: str) -> None:
    """Make every atomic write fail as the file system would (the tests may run as root)."""
    import approxdse.core.atomic_files as af

    code = getattr(errno, fault)

    def failing(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if fault == "EACCES":  # a read-only folder refuses the temporary file
        monkeypatch.setattr(af.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(
            PermissionError(code, os.strerror(code), k.get("dir"))))
    else:  # a full disk / read-only file system fails the final rename
        monkeypatch.setattr(af.os, "replace", failing)


def _run(world, monkeypatch, capsys, argv, options):
    if options.get("needs_cc") and not HAS_CC:
        pytest.skip("needs a C compiler")
    monkeypatch.chdir(world)
    monkeypatch.setenv("APPROXDSE_HOME", str(world / "home"))
    for key, value in options.get("env", {}).items():
        monkeypatch.setenv(key, value.format(w=world))
    if options.get("fault"):
        _inject(monkeypatch, options["fault"])
    capsys.readouterr()
    before = _listing(world)
    try:
        status = main([a.format(w=world) for a in argv])
    except SystemExit as exc:  # argparse
        status = exc.code
    captured = capsys.readouterr()
    return status, captured, before, _listing(world)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(world, monkeypatch, capsys, case):
    _, argv, expected_status, fragment, *rest = case
    options = rest[0] if rest else {}
    status, captured, before, after = _run(world, monkeypatch, capsys, argv, options)
    lines = [ln for ln in captured.err.splitlines() if ln.strip() and "%|" not in ln]
    warned = [ln for ln in lines if ln.startswith("approxdse: warning: skipping a user multiplier")]
    assert len(warned) == options.get("catalog_warnings", 0), captured.err  # `list` names the broken entries
    lines = [ln for ln in lines if ln not in warned]
    assert status == expected_status, captured.err
    if options.get("usage"):  # argparse: its usage lines, then one "approxdse CMD: error: ..." line
        assert lines[-1].startswith("approxdse ") and ": error: " in lines[-1], captured.err
        assert lines[0].startswith("usage: "), captured.err
        lines = lines[-1:]
    else:
        assert len(lines) == 1 and lines[0].startswith("approxdse: error: "), captured.err
    assert fragment.format(w=world) in lines[0]
    assert "Traceback" not in captured.err
    assert after == before, f"left behind: {sorted(after - before)}"


@pytest.mark.parametrize("case", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_warning_only(world, monkeypatch, capsys, case):
    _, argv, fragment = case
    status, captured, before, after = _run(world, monkeypatch, capsys, argv, {})
    assert status == 0
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 2 and all(ln.startswith("approxdse: warning: ") for ln in lines)  # broken, lostlut
    assert fragment in lines[0] and "has lost its LUT file" in lines[1]
    assert "noenergy" in captured.out and after == before


def test_table_covers_each_class():
    ids = {c[0] for c in CASES}
    for prefix in ("unknown-", "-bad-yaml", "lut-", "-negative", "-missing", "-is-dir", "-parent-file",
                   "disk-full", "read-only", "corrupt", "c-", "-empty", "-not-text", "-is-file"):
        assert any(prefix in i for i in ids), prefix
    # every command that takes a file is given a missing one, a folder and a non-text one (or its flag's
    # equivalent: NETWORK, --mapping, --accelerator FILE, --layers, --predictor, --data, CONFIG, RUN_DIR)
    for command, flag_cases in {
        "energy": ("mapping-missing", "mapping-is-dir", "mapping-not-text", "arch-missing", "arch-is-dir",
                   "arch-not-text", "network-file-missing", "problem-not-text", "problem-folder-empty"),
        "workload": ("workload-problem-not-text", "workload-output-is-dir"),
        "multipliers": ("lut-missing", "import-is-dir", "lut-txt-not-text", "lut-npy-empty"),
        "accuracy": ("layers-missing", "layers-is-dir", "layers-not-text", "data-dir-missing", "data-dir-is-file"),
        "train-predictor": ("dataset-missing", "train-data-is-file", "train-manifest-not-text"),
        "compare": ("model-missing", "model-is-dir", "model-not-text", "compare-data-is-file"),
        "search": ("search-config-missing", "search-config-is-dir", "search-config-not-text",
                   "search-run-missing", "resume-run-is-file", "resume-run-config-not-text"),
    }.items():
        missing = [c for c in flag_cases if c not in ids]
        assert not missing, (command, missing)


def test_report_skips_records_that_are_not_candidate_rows(world, monkeypatch, capsys, tmp_path):
    """A JSON line of another shape in candidates.jsonl (a hand edit) is skipped with one note, not a
    traceback (it used to fail with "cannot convert float NaN to integer")."""
    run = tmp_path / "run"
    shutil.copytree(world / "run_foreign", run)
    monkeypatch.setenv("APPROXDSE_HOME", str(world / "home"))
    capsys.readouterr()
    assert main(["search", "report", str(run)]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err == [f"approxdse: note: {run / 'candidates.jsonl'}: 1 record(s) lack the fields of a candidate row "
                   "(generation, index, key, status); ignored"], err


def test_compare_on_a_single_network_shows_undefined_metrics_as_na(world, monkeypatch, capsys, tmp_path):
    """Correlations of one network are undefined: the table and the plot say n/a instead of a TypeError."""
    monkeypatch.setenv("APPROXDSE_HOME", str(world / "home"))
    capsys.readouterr()
    plot = tmp_path / "one.png"
    assert main(["compare", "--predictor", str(world / "model.json"), "--data", str(world / "ds"),
                 "--reference-networks", "1", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "Pearson                n/a" in out and "R^2                    n/a" in out
    assert plot.is_file()


def test_dataset_with_an_unreachable_scheduler_leaves_nothing(world, monkeypatch, capsys):
    """The scheduler is reached only once the dataset folder and its manifest exist: a first run that
    cannot reach it removes them again."""
    import approxdse.core.executor as executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "1s")
    status, captured, before, after = _run(world, monkeypatch, capsys, [
        "dataset", "--out", "d", "--accelerator", "eyeriss", "--networks", "lenet5", "--multipliers", "u8_exact",
        "--scheduler", "tcp://127.0.0.1:9", "--no-progress"], {})
    assert status == 2
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0], captured.err
    assert after == before, f"left behind: {sorted(after - before)}"
