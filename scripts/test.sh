#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the test suite on all cores.
# GPU tests (marked `gpu`) skip themselves where there is no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${PYTHON:-python3}
"$PY" -m pytest -n "${APPROXDSE_TEST_WORKERS:-2}" --dist loadfile "$@"
