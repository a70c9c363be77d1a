#!/usr/bin/env bash
# The benchmark in one command: bench/run.sh [--quick] (options: bench/run.sh --help).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/run.py "$@"
