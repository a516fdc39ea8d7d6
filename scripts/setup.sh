#!/usr/bin/env bash
# Installs approxdse and what it needs. torch==2.13.0 first: its CPU wheel is
# what a range like torch>=2.2 should be satisfied with, instead of pulling
# several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install -q "torch==2.13.0"
"$PY" -m pip install -q -e ".[test]"
