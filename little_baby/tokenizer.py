"""Tokenizers: text <-> token ids. `char` (the original project's), `word`, and `bpe`
(GPT-2's byte-level BPE: bpe.py, whose tokenizer.json is the `tokenizers` library's)."""
import json
import re

import numpy

from .bpe import DEFAULT_VOCAB_SIZE, BPETokenizer
from .errors import TokenizerError


class _Vocabulary:
    """A list of symbols whose positions are their ids."""

    kind = None
    each = None  # what one token is: "one per {each}"

    def __init__(self, symbols):
        self.symbols = list(symbols)
        self.ids = {s: i for i, s in enumerate(self.symbols)}
        if len(self.ids) != len(self.symbols):
            raise TokenizerError("a tokenizer's symbols must be unique.")

    def __len__(self):
        return len(self.symbols)

    @property
    def vocab_size(self):
        return len(self.symbols)

    def __eq__(self, other):
        return type(self) is type(other) and self.symbols == other.symbols

    @classmethod
    def from_text(cls, text):
        """A vocabulary of every symbol in `text`, sorted (the original's order)."""
        symbols = sorted(set(cls.split(text)))
        if not symbols:
            raise TokenizerError("cannot build a tokenizer from empty text.")
        return cls(symbols)

    @staticmethod
    def split(text):
        raise NotImplementedError

    def encode(self, text, unknown="error"):
        """Token ids of `text` (int64 array).

        unknown='error' raises a TokenizerError naming the symbols the vocabulary lacks;
        unknown='drop' leaves them out.
        """
        pieces = self.split(text)
        missing = sorted({p for p in pieces if p not in self.ids})
        if missing and unknown == "error":
            shown = ", ".join(repr(m) for m in missing[:20])
            raise TokenizerError(
                f"{len(missing)} symbol(s) are not in this model's vocabulary: {shown}"
                f"{' ...' if len(missing) > 20 else ''}. Remove them, pass unknown='drop' "
                f"to skip them, or finetune the model on text that contains them."
            )
        if unknown not in ("error", "drop"):
            raise TokenizerError(f"unknown must be 'error' or 'drop', not {unknown!r}.")
        return numpy.array([self.ids[p] for p in pieces if p in self.ids], dtype=numpy.int64)

    def decode(self, ids):
        return "".join(self.symbols[int(i)] for i in ids)

    def decode_stream(self, ids):
        """One piece of text per id, as they come (BPETokenizer's may hold a split character)."""
        for i in ids:
            yield self.symbols[int(i)]

    def expand(self, text):
        """Add the symbols of `text` this vocabulary lacks, after the existing ones.

        Every existing id is kept. Returns the list of new symbols (in id order).
        """
        new = sorted(set(self.split(text)) - set(self.ids))
        for s in new:
            self.ids[s] = len(self.symbols)
            self.symbols.append(s)
        return new

    def describe(self, examples=0):
        """The vocabulary in one line, for info and cards: '65 tokens, one per character'.
        `examples` is the BPE's (its longest tokens); a list of symbols has none to show."""
        return f"{self.vocab_size:,} tokens, one per {self.each}"

    def to_dict(self):
        return {"type": self.kind, "symbols": self.symbols}

    def to_json(self):
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


class CharTokenizer(_Vocabulary):
    """One token per character."""

    kind = "char"
    each = "character"

    @staticmethod
    def split(text):
        return list(text)


class WordTokenizer(_Vocabulary):
    """One token per word, per run of white space and per punctuation mark.

    White space is kept as tokens, so decode(encode(text)) == text.
    """

    kind = "word"
    each = "word, run of white space or punctuation mark"
    _PATTERN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)

    @staticmethod
    def split(text):
        return WordTokenizer._PATTERN.findall(text)


TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer}  # built from a list of symbols
KINDS = (*TOKENIZERS, BPETokenizer.kind)  # the config's c_tokenizer


def tokenizer_for_text(kind, text, vocab_size=None):
    """A new tokenizer of `kind` for `text`: its symbols (char, word), or merges learnt
    from it until the vocabulary holds `vocab_size` tokens (bpe; default 1024)."""
    if kind == BPETokenizer.kind:
        return BPETokenizer.train(text, DEFAULT_VOCAB_SIZE if vocab_size is None else vocab_size)
    if kind not in TOKENIZERS:
        raise TokenizerError(f"c_tokenizer must be one of {list(KINDS)}, not {kind!r}.")
    if vocab_size is not None:
        raise TokenizerError(f"a {kind} tokenizer's vocabulary is every {kind} of the text: "
                             f"vocab_size is for c_tokenizer 'bpe' only.")
    return TOKENIZERS[kind].from_text(text)


def tokenizer_from_dict(data):
    """Rebuild a tokenizer from `to_dict()` output, checking every symbol's type first.
    A `tokenizers` library's tokenizer.json (it has a "model") is a BPETokenizer's."""
    if isinstance(data, dict) and "model" in data and "type" not in data:
        return BPETokenizer.from_dict(data)
    if not isinstance(data, dict) or data.get("type") not in TOKENIZERS or not isinstance(
            data.get("symbols"), list):
        raise TokenizerError(
            "not a tokenizer file: expected {\"type\": \"char\"|\"word\", \"symbols\": [...]} "
            "or a byte-level BPE's tokenizer.json.")
    symbols, kind = data["symbols"], data["type"]
    bad = next((i for i, s in enumerate(symbols) if not isinstance(s, str) or not s
                or (kind == "char" and len(s) != 1)), None)
    if bad is not None:
        what = "one character" if kind == "char" else "a non-empty string"
        raise TokenizerError(f"symbol {bad} of this {kind} tokenizer is {symbols[bad]!r}, not "
                             f"{what}: the tokenizer file is damaged.")
    if not symbols:
        raise TokenizerError("the tokenizer file lists no symbols: it is damaged.")
    return TOKENIZERS[kind](symbols)


def load_tokenizer(path):
    with open(path, encoding="utf-8") as f:
        try:
            return tokenizer_from_dict(json.load(f))
        except json.JSONDecodeError as e:
            raise TokenizerError(f"{path} is not valid JSON: {e}") from e
