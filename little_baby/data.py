"""Training text: reading it, finding the bundled datasets, and cutting batches."""
import os
from pathlib import Path

import numpy

from .errors import BabyError

REPO_ROOT = Path(__file__).resolve().parent.parent


class CorpusError(BabyError, ValueError):
    """A training text that cannot be used (missing, not UTF-8, empty or too small)."""


def read_corpus(path):
    """The text of a UTF-8 file, or a CorpusError saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file {str(path)!r} does not exist (or is not a file).")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"corpus file {str(path)!r} is not UTF-8 text ({e.reason} at byte "
                          f"{e.start}); convert it, e.g. `iconv -t UTF-8`.") from e
    if not text.strip():
        raise CorpusError(f"corpus file {str(path)!r} is empty.")
    return text


def find_input(name):
    """Path of a bundled dataset such as 'shakespeare.txt', or None where it is absent.

    Looks in $LITTLE_BABY_INPUTS, then ./inputs, then the project's inputs/ and the
    shared inputs folder beside the checkout.
    """
    places = [os.environ.get("LITTLE_BABY_INPUTS"), "inputs", REPO_ROOT / "inputs",
              REPO_ROOT.parent / "shared" / "inputs"]
    for place in places:
        if place and (Path(place) / name).is_file():
            return Path(place) / name
    return None


def random_batch(ids, batch_size, n_ctx, rng):
    """batch_size random windows of ids: inputs x and next-token targets y, (B, n_ctx) each."""
    if len(ids) < n_ctx + 1:
        raise CorpusError(f"the text has {len(ids)} tokens, fewer than one window of n_ctx + 1 = "
                          f"{n_ctx + 1}; use more text or a smaller n_ctx.")
    starts = rng.integers(0, len(ids) - n_ctx, size=batch_size)
    rows = starts[:, None] + numpy.arange(n_ctx + 1)
    windows = ids[rows]
    return windows[:, :-1], windows[:, 1:]
