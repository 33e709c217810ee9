"""The `little-baby` command. Each sub-command is a module with `add_arguments(parser)`
and `run(args)`; this file only wires them together and turns user errors into one
clear line and exit code 2."""
import argparse
import sys

from . import __version__, bench
from .errors import BabyError

# name -> (module, one-line help)
COMMANDS = {
    "bench": (bench, "measure training and generation speed"),
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
    try:
        return args.run(args) or 0
    except BabyError as e:
        print(f"little-baby {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"little-baby {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
