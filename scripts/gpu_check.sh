#!/usr/bin/env bash
# The GPU check (issue 25; little_baby/tools/gpu_check.py): the engine on CuPy against
# NumPy, speed against PyTorch CUDA, one JSON summary on stdout (progress on stderr).
# Without an NVIDIA GPU: one line, exit 0. The same as `little-baby doctor --gpu-check`.
#   scripts/gpu_check.sh                   # everything, at most 450 s (--budget SECONDS)
#   scripts/gpu_check.sh --json out.json   # the summary also written to a file
#   scripts/gpu_check.sh --only bench torch   # some of: gradcheck bench torch train generate
# PYTHON=/path/to/python picks the interpreter (default: python, else python3).
cd "$(dirname "$0")/.." || exit 1
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" little_baby/tools/gpu_check.py "$@"
