"""Training text: reading it, finding the bundled datasets, and cutting batches."""
import hashlib
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy

from ..bpe import BPETokenizer
from ..errors import CorpusError, spelled
from ..io.store.places import input_folders
from .resources import check_corpus_fits


def read_corpus(path):
    """The text of a UTF-8 file, or a CorpusError saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus file {str(path)!r} does not exist (or is not a file).")
    check_corpus_fits(path, path.stat().st_size)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"corpus file {str(path)!r} is not UTF-8 text ({e.reason} at byte "
                          f"{e.start}); convert it, e.g. `iconv -t UTF-8`.") from e
    if not text.strip():
        raise CorpusError(f"corpus file {str(path)!r} is empty.")
    return text


class Corpus(NamedTuple):
    """A corpus read once: its text and the file it came from (None: text given as a str)."""

    text: str
    path: Path | None


def load_corpus(corpus):
    """The Corpus (text, path) of `corpus`: a path, the text itself, or a Corpus already
    read (returned as it is, so that a caller that checked the text first reads it once).

    A Path, or a str without a newline that names a file or looks like a file's name
    (it starts with '/', '~' or '.', ends in an extension such as '.txt', or has a '/'
    or '\\' and no spaces), is a path, and a missing file is a CorpusError, never the
    text of its name. A str with a newline is the text, and so is any other one-line str."""
    if isinstance(corpus, Corpus):
        return corpus
    if isinstance(corpus, os.PathLike):
        return Corpus(read_corpus(Path(corpus).expanduser()), Path(corpus).expanduser())
    if isinstance(corpus, str) and _names_a_file(corpus):
        path = Path(corpus).expanduser()
        if not path.is_file():
            raise CorpusError(f"corpus file {corpus!r} does not exist (or is not a file); "
                              f"a str that looks like a path is read as one (text to train "
                              f"on is a str with a newline in it).")
        return Corpus(read_corpus(path), path)
    if not isinstance(corpus, str) or not corpus.strip():
        raise CorpusError("the corpus is empty: give a text file's path or the text itself.")
    return Corpus(corpus, None)


_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}")


def _names_a_file(text):
    """Whether a str corpus is meant as a path (see load_corpus)."""
    if "\n" in text or not text.strip():
        return False
    try:
        if Path(text).expanduser().is_file():
            return True
    except (OSError, ValueError):  # too long or not a possible name
        return False
    separator = ("/" in text or "\\" in text) and not any(c.isspace() for c in text)
    return len(text) <= 4096 and (separator or text.startswith(("/", "~", "."))
                                  or _EXTENSION.fullmatch(Path(text).suffix) is not None)


def text_sha256(text):
    """The sha256 of `text` as UTF-8: how a resumed run knows its corpus is unchanged."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_input(name):
    """Path of a text such as 'shakespeare.txt' in io/store/places.py's input folders
    ($LITTLE_BABY_INPUTS, then ./inputs), or None where it is absent."""
    return next((folder / name for folder in input_folders() if (folder / name).is_file()),
                None)


def random_batch(ids, batch_size, n_ctx, rng):
    """batch_size random windows of ids: inputs x and next-token targets y, (B, n_ctx) each."""
    if len(ids) < n_ctx + 1:
        raise CorpusError(f"the text has {len(ids)} tokens, fewer than one window of n_ctx + 1 = "
                          f"{n_ctx + 1}; use more text or a smaller n_ctx.")
    return windows_at(ids, rng.integers(0, len(ids) - n_ctx, size=batch_size), n_ctx)


def windows_at(ids, starts, n_ctx):
    """The windows of ids starting at `starts`: inputs x and next-token targets y, (B, n_ctx) each."""
    windows = ids[starts[:, None] + numpy.arange(n_ctx + 1)]
    return windows[:, :-1], windows[:, 1:]


def char_cut(text, r_split):
    """Where the held-out part of `text` begins, in characters: the last 1 - r_split of it."""
    return int(r_split * len(text))


def encode_split(tokenizer, text, r_split):
    """(ids, split): `text` as token ids and the index of the first validation token.

    A BPE model's text is cut in characters, at int(r_split * len(text)), and each side is
    encoded on its own, so that it holds out exactly the text a char model holds out (the
    last 1 - r_split of the characters) and bits per character compare on the same text.
    Char ids are characters, so their token cut is that cut; word models cut their tokens
    (a word cut in two would be no word of the vocabulary)."""
    if isinstance(tokenizer, BPETokenizer):
        cut = char_cut(text, r_split)
        train, val = tokenizer.encode(text[:cut]), tokenizer.encode(text[cut:])
        return numpy.concatenate([train, val]), len(train)
    ids = tokenizer.encode(text)
    return ids, int(r_split * len(ids))


class TrainingData:
    """Token ids split at `split` (encode_split's: the first validation token) into a
    training and a validation part, cut into windows of n_ctx inputs and their n_ctx
    next-token targets.

    Two ways to make batches, both pure functions of (seed, step), so a resumed run only
    needs its step count: `epoch_batch` walks the training part in stride-n_ctx windows,
    shuffled anew each epoch (c_shuffle), and `random_batch` takes windows at random
    offsets (the step-count plan of nanoGPT-style scripts).
    """

    def __init__(self, ids, split, n_ctx, batch_size, shuffle=True, seed=0, n_ctx_fixed=False):
        self.train, self.val = ids[:split], ids[split:]
        if min(len(self.train), len(self.val)) < n_ctx + 1:
            # a finetune keeps its parent's n_ctx: then the message does not suggest it
            smaller = "" if n_ctx_fixed else f" a smaller {spelled('n_ctx')},"
            raise CorpusError(
                f"the corpus has {len(ids)} tokens; split by r_split, its training part has "
                f"{len(self.train)} and its validation part {len(self.val)}, and each needs "
                f"at least one window of n_ctx + 1 = {n_ctx + 1} tokens"
                f"{' (the model' + chr(39) + 's n_ctx)' if n_ctx_fixed else ''}: use more "
                f"text,{smaller} or another {spelled('r_split')}.")
        self.n_ctx, self.batch_size, self.shuffle, self.seed = n_ctx, batch_size, shuffle, seed
        self.n_windows = (len(self.train) - 1) // n_ctx  # stride-n_ctx windows per epoch
        self.steps_per_epoch = max(1, self.n_windows // batch_size)
        self._epoch_order = (None, None)

    def epoch_batch(self, step):
        """Batch `step` of the epoch walk: (x, y), each (rows, n_ctx)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        rows = self._order(epoch)[k * self.batch_size:(k + 1) * self.batch_size]
        return windows_at(self.train, rows * self.n_ctx, self.n_ctx)

    def _order(self, epoch):
        """The order of the windows in `epoch` (shuffled by the seed and the epoch), kept
        for the epoch's steps."""
        if self._epoch_order[0] != epoch:
            order = numpy.arange(self.n_windows)
            if self.shuffle:
                order = numpy.random.default_rng([self.seed, 0, epoch]).permutation(order)
            self._epoch_order = (epoch, order)
        return self._epoch_order[1]

    def random_batch(self, step):
        """Batch `step` of windows at random offsets: (x, y), each (batch_size, n_ctx)."""
        rng = numpy.random.default_rng([self.seed, 1, step])
        return random_batch(self.train, self.batch_size, self.n_ctx, rng)

    def sample(self, part, n_windows):
        """A fixed sample of stride-n_ctx windows of 'train' or 'val' (all of them if there
        are at most n_windows), as a list of (x, y) batches: the same for every evaluation."""
        ids = self.train if part == "train" else self.val
        starts = numpy.arange((len(ids) - 1) // self.n_ctx) * self.n_ctx
        if len(starts) > n_windows:
            rng = numpy.random.default_rng([self.seed, 2, int(part == "val")])
            starts = numpy.sort(rng.choice(starts, n_windows, replace=False))
        return [windows_at(ids, starts[i:i + self.batch_size], self.n_ctx)
                for i in range(0, len(starts), self.batch_size)]
