"""The `little-baby` command. Each sub-command is a module with `add_arguments(parser)`
and `run(args)`; this file only wires them together and turns user errors into one
clear line and exit code 2."""
import argparse
import os
import sys

from .. import __version__
from ..tools import bench
from .commands import delete, finetune, generate, info, train
from .commands import list as list_models
from .commands import arithmetic
from .commands import convert
from .commands import doctor
from .commands import export
from .commands import space
from ..errors import SURFACE, BabyError
from ..io.store.places import one_store

# name -> (module, one-line help)
COMMANDS = {
    "train": (train, "train a new model on a text file, or --resume a stopped run"),
    "finetune": (finetune, "train a model further on new text, as a new model"),
    "generate": (generate, "generate text with a model, streamed as it is made"),
    "info": (info, "show a model's settings, size, losses and lineage"),
    "list": (list_models, "list the models in the store"),
    "delete": (delete, "delete a model from the store"),
    "convert": (convert, "convert a model saved by the original project into a model folder"),
    "export": (export, "export a model as transformers' GPT-2 (a folder transformers loads)"),
    "bench": (bench, "measure training and generation speed"),
    "doctor": (doctor, "check the platform, GPU, CUDA and CuPy, and say what to install"),
    "arithmetic": (arithmetic, "the first lesson: a tiny network learns to add"),
    "space": (space, "put the Gradio Space on the Hugging Face Hub (space deploy OWNER/NAME)"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="little-baby", description="Train, run and share small NumPy GPT models.")
    parser.add_argument("--version", action="version", version=f"little-baby {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    surface = SURFACE.set("cli")  # messages name options (--n-ctx), not Python's names
    try:
        return _run(args)
    finally:
        SURFACE.reset(surface)


def _run(args):
    try:
        if "cache" in vars(args):  # --store's older name, --cache
            args.store = one_store(args.store, args.cache)
        code = args.run(args) or 0
        sys.stdout.flush()  # here, so a closed pipe is caught below, not at exit
        return code
    except BabyError as e:
        print(f"little-baby {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `little-baby info | head`: the reader left; stop quietly
        return _stdout_gone()
    except MemoryError as e:  # what the estimate before a run (resources.py) did not foresee
        smaller = ("--batch-size" if args.command == "finetune" else
                   "--n-ctx, --batch-size, --n-emb or --n-layers")
        print(f"little-baby {args.command}: error: out of memory ({e or 'MemoryError'}): use "
              f"a smaller {smaller}.", file=sys.stderr)
        return 2
    except OSError as e:  # a file or folder the system refused: say which, no traceback
        print(f"little-baby {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"little-baby {args.command}: interrupted", file=sys.stderr)
        return 130


def _stdout_gone():
    """Exit code 141 (128 + SIGPIPE, what a shell reports for a writer whose reader left),
    with stdout pointed at /dev/null so the flush at exit raises nothing (the Python
    docs' recipe, "Note on SIGPIPE" in the signal module)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (captured in a test, say)
        pass
    return 141


if __name__ == "__main__":
    sys.exit(main())
