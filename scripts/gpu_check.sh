#!/usr/bin/env bash
# The GPU check (issue 25): the engine on CuPy against NumPy, speed against PyTorch CUDA,
# one JSON summary on stdout (progress on stderr). Without an NVIDIA GPU: one line, exit 0.
#   scripts/gpu_check.sh                   # everything, at most 450 s (--budget SECONDS)
#   scripts/gpu_check.sh --only train      # some parts: gradcheck train generate bench torch
# PYTHON=/path/to/python picks the interpreter (default: python, else python3).
cd "$(dirname "$0")/.." || exit 1
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
exec "$PYTHON" scripts/gpu_check.py "$@"
