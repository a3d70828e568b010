#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: install with the cuda extra, run the GPU tests and the
# CPU-vs-GPU training check (benchmarks/gpu_check.py), writing benchmarks/results/gpu_check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e ".[dev,cuda]"
python -m pytest tests -q --gpu -m gpu
python benchmarks/gpu_check.py --steps "${STEPS:-300}" "$@"
