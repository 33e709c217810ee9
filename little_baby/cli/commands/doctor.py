"""Say what this machine offers for training: the platform (Kaggle, Colab, Jupyter, a
script), the GPU, its compute capability, the driver's and the toolkit's CUDA versions,
the CuPy wheel that fits them and the pip command that would install it, the cupy
packages installed and whether CuPy works, the device training will use, where models
and texts go, and whether a Hugging Face token is found. Nothing is installed:
`platforms.setup()` does that, in Python or a notebook.

    little-baby doctor
    little-baby doctor --json      # the same as JSON, for scripts
    little-baby doctor --gpu-check # on a GPU: make CuPy work, compare it with NumPy, time it
                                   # against PyTorch; one JSON summary (tools/gpu_check.py)
"""
import json

from ... import platforms


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--gpu-check", action="store_true",
                        help="run the GPU check instead: CuPy against NumPy and PyTorch, under "
                             "8 minutes, one JSON summary (without a GPU: one line)")


def run(args):
    if args.gpu_check:
        from ...tools import gpu_check
        return gpu_check.main([])
    found = platforms.diagnose()
    token = platforms.hub_token(found.platform)
    if args.json:
        print(json.dumps({**found.to_dict(), "hub_token": token.to_dict()}, indent=2))
        return 0
    print("\n".join(found.lines()))
    print(f"Hub token      {'found, from ' + token.source if token.value else token.advice}")
    if found.command:
        print(f"\nTo install CuPy: {platforms.command_text(found.command)}, or in Python: "
              f"from little_baby import platforms; platforms.setup()")
    return 0
