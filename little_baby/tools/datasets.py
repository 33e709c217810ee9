"""Get a named data set into inputs/, its sha256 checked (training/datasets.py).

    python -m little_baby.tools.datasets                # each data set: there or not, and how to get it
    python -m little_baby.tools.datasets shakespeare    # download inputs/shakespeare.txt (or check it)
    python -m little_baby.tools.datasets sophocles      # check the copy you put in inputs/

Exit codes: 0 the file is there and is the data set, 2 it is not (one line on stderr).
"""
import argparse
import sys

from ..errors import BabyError
from ..training.datasets import DATASETS, check, download, how_to_get, inputs_dir


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m little_baby.tools.datasets",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", choices=list(DATASETS),
                        help="the data set (without one: list them)")
    parser.add_argument("--inputs", metavar="DIR",
                        help="the data folder (default: $LITTLE_BABY_INPUTS, else ./inputs)")
    parser.add_argument("--url", help="download from here instead (a mirror); the sha256 "
                                      "is checked all the same")
    args = parser.parse_args(argv)
    try:
        if args.name is None:
            for d in DATASETS.values():
                print(f"{d.name:12} {_state(d.name, args.inputs)}\n{'':12} {d.source}.")
            return 0
        path, downloaded = download(args.name, args.inputs, args.url)
    except BabyError as e:
        print(f"datasets: error: {e}", file=sys.stderr)
        return 2
    print(f"{path}: {'downloaded, ' if downloaded else ''}sha256 checked")
    return 0


def _state(name, inputs):
    try:
        return f"{check(name, inputs)} (sha256 checked)"
    except BabyError:
        path = inputs_dir(inputs) / DATASETS[name].file
        return (f"not there: {how_to_get(name)}" if not path.exists() else
                f"{path} is there but is not this data set (its sha256 differs)")


if __name__ == "__main__":
    sys.exit(main())
