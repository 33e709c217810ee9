"""Byte-level BPE: GPT-2's tokenizer, written to be read (the shape of Karpathy's minbpe).

Text becomes UTF-8 bytes, so nothing is ever unknown. GPT-2's pattern first cuts the
text into pieces (contractions, letters, numbers, other, white space); inside each piece
the adjacent pair of tokens with the best (lowest) merge rank is merged, again and
again, until no pair of the piece has a merge. Merges never cross two pieces.

    >>> tok = BPETokenizer.train(text, vocab_size=1024)   # learn 768 merges
    >>> tok.decode(tok.encode("To be, or not to be")) == "To be, or not to be"

Token strings (in vocab.json, merges.txt and tokenizer.json) spell each byte as one
printable character: GPT-2's `bytes_to_unicode` table ("Ġ" is the space, "Ċ" the
newline). `to_dict()` is a `tokenizer.json` that the `tokenizers` library and
transformers' PreTrainedTokenizerFast load; `from_dict` reads one back, and
`from_files` reads GPT-2's vocab.json + merges.txt.

Letters, digits and white space are what the `regex` module's Unicode tables say (as in
GPT-2's own encoder.py). The `tokenizers` library's regex engine may know an older
Unicode: the few thousand characters assigned since (rare scripts and ideographs) can be
cut differently there; for all others the ids are the same.
"""
import codecs
import heapq
import json
from collections import Counter, defaultdict

import numpy
import regex

from .errors import TokenizerError

# GPT-2's pre-tokenization: 's 't 're 've 'm 'll 'd, an optional space then letters,
# or digits, or other symbols; white space (the last space of a run goes to the next word).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_SPLIT = regex.compile(GPT2_PATTERN)

DEFAULT_VOCAB_SIZE = 1024  # 256 bytes + 768 merges
MAX_VOCAB_SIZE = 1_000_000
CACHE_LIMIT = 200_000  # pieces remembered by encode
LONG_PIECE = 256  # bytes: longer pieces merge through a heap (same result, n log n)
GPT2_FILES = ("vocab.json", "merges.txt")  # GPT-2's own files of a BPE: from_files, save_files


def bytes_to_unicode():
    """GPT-2's table: byte value -> one printable character. The printable Latin-1 bytes
    stand for themselves; the other 68 (control codes, space, ...) take the characters
    from U+0100 up, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def token_string(data):
    """The vocabulary's spelling of a token's bytes: b' the' -> 'Ġthe'."""
    return "".join(BYTE_TO_CHAR[b] for b in data)


def token_bytes(string):
    """The bytes a vocabulary string stands for: 'Ġthe' -> b' the'."""
    try:
        return bytes(CHAR_TO_BYTE[c] for c in string)
    except KeyError as e:
        raise TokenizerError(f"token {string!r} is not byte-level: {e.args[0]!r} stands for "
                             f"no byte in GPT-2's table.") from None


# ---- the two steps of minbpe ----------------------------------------------------------
def get_stats(ids, counts=None, weight=1):
    """How often each adjacent pair occurs in `ids` (added to `counts`, `weight` times)."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids, pair, new_id):
    """`ids` with every occurrence of `pair`, left to right, replaced by `new_id`."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def split_text(text):
    """GPT-2's pre-tokenization: the pieces merges never cross."""
    return _SPLIT.findall(text)


class BPETokenizer:
    """A byte-level BPE: `vocab` (token string -> id), `merges` (pairs of token strings
    in rank order) and optional `special` tokens (string -> id, matched whole in text).

    `kind` is 'bpe' (the config's c_tokenizer)."""

    kind = "bpe"

    def __init__(self, vocab, merges, special=None, add_prefix_space=False,
                 ignore_merges=False):
        special = dict(special or {})
        if not isinstance(vocab, dict) or not all(
                isinstance(k, str) and k and type(v) is int and v >= 0
                for k, v in (*vocab.items(), *special.items())):
            raise TokenizerError("a BPE vocabulary (and its special tokens) maps non-empty "
                                 "token strings to ids >= 0.")
        everything = {**vocab, **special}
        ids = sorted(everything.values())
        if ids != list(range(len(ids))) or len(everything) != len(vocab) + len(special):
            raise TokenizerError(f"a BPE vocabulary's ids (with the special tokens') must be "
                                 f"0..{len(everything) - 1}, each once.")
        if len(everything) > MAX_VOCAB_SIZE:
            raise TokenizerError(f"a BPE vocabulary of {len(everything):,} tokens is more "
                                 f"than the {MAX_VOCAB_SIZE:,} this library reads.")
        self.vocab, self.special = dict(vocab), special
        self._bytes = [b""] * len(everything)  # id -> the bytes it stands for
        for s, i in vocab.items():
            self._bytes[i] = token_bytes(s)
        for s, i in special.items():
            self._bytes[i] = s.encode("utf-8")
        missing = [BYTE_TO_CHAR[b] for b in range(256) if BYTE_TO_CHAR[b] not in vocab]
        if missing:
            raise TokenizerError(f"a byte-level vocabulary needs all 256 bytes; it lacks "
                                 f"{len(missing)}, e.g. {missing[0]!r}.")
        self._byte_id = [vocab[BYTE_TO_CHAR[b]] for b in range(256)]
        # pair of ids -> (rank, id of the merged token)
        self.merges = [tuple(m) for m in merges]
        bad = next((m for m in self.merges if len(m) != 2 or not all(
            isinstance(p, str) for p in m)), None)
        if bad is not None:
            raise TokenizerError(f"a merge is a pair of token strings, not {bad!r}.")
        self._ranks = {}
        for rank, (a, b) in enumerate(self.merges):
            for part in (a, b, a + b):
                if part not in vocab:
                    raise TokenizerError(f"merge {rank + 1} ({a!r} {b!r}) uses {part!r}, "
                                         f"which is not in the vocabulary.")
            self._ranks.setdefault((vocab[a], vocab[b]), (rank, vocab[a + b]))
        self.add_prefix_space, self.ignore_merges = bool(add_prefix_space), bool(ignore_merges)
        self._special_split = (regex.compile("(" + "|".join(
            regex.escape(s) for s in sorted(special, key=len, reverse=True)) + ")")
            if special else None)
        self._cache, self._symbols = {}, None

    # ---- sizes, comparison ------------------------------------------------------------------
    def __len__(self):
        return len(self._bytes)

    @property
    def vocab_size(self):
        return len(self._bytes)

    @property
    def ids(self):
        """token string -> id, the special tokens included."""
        return {**self.vocab, **self.special}

    def __eq__(self, other):
        return (type(self) is type(other) and self.vocab == other.vocab
                and self.merges == other.merges and self.special == other.special
                and self.add_prefix_space == other.add_prefix_space
                and self.ignore_merges == other.ignore_merges)

    def __repr__(self):
        return (f"BPETokenizer({self.vocab_size} tokens, {len(self.merges)} merges, "
                f"{len(self.special)} special)")

    # ---- encoding -----------------------------------------------------------------------------
    def encode_piece(self, piece):
        """Token ids of one pre-tokenized piece (bytes): start from its bytes, then merge
        the pair with the lowest rank until no pair of the piece has a merge."""
        if self.ignore_merges and token_string(piece) in self.vocab:
            return [self.vocab[token_string(piece)]]
        ids = [self._byte_id[b] for b in piece]
        if len(ids) > LONG_PIECE:
            return self._merge_with_heap(ids)
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: self._ranks.get(p, (float("inf"),))[0])
            if pair not in self._ranks:
                break  # nothing left to merge
            ids = merge(ids, pair, self._ranks[pair][1])
        return ids

    def _merge_with_heap(self, ids):
        """encode_piece's merges for a long piece (text without spaces: Chinese, a long
        number, minified code), in time n log n instead of n²: the pairs wait in a heap
        by (rank, position), so each step merges the same pair the loop above would
        (the lowest rank, leftmost first), and only a merge's two new neighbours are looked
        at again. Positions form a linked list: `after[i]` is the next live position."""
        ranks, tok = self._ranks, list(ids)
        after = list(range(1, len(tok))) + [-1]
        before = list(range(-1, len(tok) - 1))
        heap = [(ranks[p][0], i) for i, p in enumerate(zip(tok, tok[1:])) if p in ranks]
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = after[i]
            if tok[i] is None or j < 0 or ranks.get((tok[i], tok[j]), (None,))[0] != rank:
                continue  # stale: position i was merged away, or its pair has changed
            tok[i], tok[j] = ranks[(tok[i], tok[j])][1], None  # j joins i
            after[i] = after[j]
            if after[j] >= 0:
                before[after[j]] = i
            for left in (before[i], i):  # the new pairs on either side of the merged token
                if left >= 0 and after[left] >= 0:
                    pair = (tok[left], tok[after[left]])
                    if pair in ranks:
                        heapq.heappush(heap, (ranks[pair][0], left))
        return [t for t in tok if t is not None]

    def _encode_ordinary(self, text, out):
        """Append the ids of `text` (no special tokens in it) to `out`: split, then
        encode each piece (remembered: words repeat)."""
        if self.add_prefix_space and not text.startswith(" "):
            text = " " + text
        cache = self._cache
        for piece in split_text(text):
            ids = cache.get(piece)
            if ids is None:
                try:
                    data = piece.encode("utf-8", "surrogateescape")
                except UnicodeEncodeError:
                    raise TokenizerError("the text holds a lone surrogate code point, which is "
                                         "no UTF-8: encode valid text (or bytes, "
                                         "with encode_bytes).") from None
                ids = self.encode_piece(data)
                if len(cache) < CACHE_LIMIT:
                    cache[piece] = ids
            out.extend(ids)

    def encode(self, text, unknown="error"):
        """Token ids of `text` (int64 array). Every text is encodable (byte-level), so
        `unknown` ('error' or 'drop', as for the other tokenizers) changes nothing."""
        if unknown not in ("error", "drop"):
            raise TokenizerError(f"unknown must be 'error' or 'drop', not {unknown!r}.")
        if not isinstance(text, str):
            raise TokenizerError(f"encode takes a str, not {type(text).__name__} "
                                 f"(bytes: encode_bytes).")
        out = []
        parts = self._special_split.split(text) if self._special_split else [text]
        for i, part in enumerate(parts):
            if i % 2:
                out.append(self.special[part])
            elif part:
                self._encode_ordinary(part, out)
        return numpy.array(out, dtype=numpy.int64)

    def encode_bytes(self, data):
        """Token ids of any bytes, UTF-8 or not (pieces are cut as for the text whose
        invalid bytes are stand-ins), without special tokens."""
        out = []
        self._encode_ordinary(bytes(data).decode("utf-8", "surrogateescape"), out)
        return numpy.array(out, dtype=numpy.int64)

    # ---- decoding -----------------------------------------------------------------------------
    def decode_bytes(self, ids):
        """The bytes that `ids` stand for."""
        try:
            return b"".join(self._bytes[int(i)] for i in ids)
        except IndexError:
            raise TokenizerError(f"token ids must be in 0..{self.vocab_size - 1}.") from None

    def decode(self, ids):
        """The text of `ids` (bytes that are no UTF-8 become U+FFFD)."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_stream(self, ids):
        """One piece of text per id, as they come: a character whose bytes span several
        tokens appears with its last byte (a piece may be ''); bytes left incomplete
        at the end come as U+FFFD in one last piece."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for i in ids:
            yield decoder.decode(self.decode_bytes([i]))
        rest = decoder.decode(b"", final=True)
        if rest:
            yield rest

    def token_text(self, i):
        """Token `i` made readable: its text, or its bytes' escapes where they are no
        whole UTF-8 (b'\\xe2\\x80')."""
        data = self.decode_bytes([i])
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return str(data)[2:-1]

    @property
    def symbols(self):
        """Each token made readable, in id order (what the char and word tokenizers' symbols
        are: the text of each id), for tables and pictures."""
        if self._symbols is None:
            self._symbols = [self.token_text(i) for i in range(self.vocab_size)]
        return self._symbols

    def describe(self, examples=0):
        """The vocabulary in one line, for info and cards (as the char and word tokenizers'):
        '300 tokens, byte-level BPE: 256 bytes, 43 merges, 1 special (<|endoftext|>)', with
        `examples` of its longest merged tokens as text pieces (' the' -> '␣the')."""
        text = (f"{self.vocab_size:,} tokens, byte-level BPE: 256 bytes, "
                f"{len(self.merges):,} merges, {len(self.special)} special")
        if self.special:
            shown = ", ".join(list(self.special)[:3]) + (" ..." if len(self.special) > 3 else "")
            text += f" ({shown})"
        if examples and self.merges:
            merged = sorted((self.vocab[a + b] for a, b in self.merges),
                            key=lambda i: (-len(self._bytes[i]), i))[:examples]
            pieces = ", ".join(f"'{visible(self.token_text(i))}'" for i in merged)
            text += f"; longest tokens: {pieces}"
        return text

    def expand(self, text):
        """Byte-level: every text is already encodable; nothing to add (returns [])."""
        return []

    # ---- training -----------------------------------------------------------------------------
    @classmethod
    def from_text(cls, text, vocab_size=DEFAULT_VOCAB_SIZE):
        """A tokenizer trained on `text` (as the char and word tokenizers are built)."""
        return cls.train(text, vocab_size)

    @classmethod
    def train(cls, text, vocab_size=DEFAULT_VOCAB_SIZE, special=()):
        """Learn merges from `text` until the vocabulary holds `vocab_size` tokens (the
        256 bytes, the merged tokens, then the `special` strings), or no pair repeats.

        Each distinct piece is kept once with its count. The pair counts are updated
        where a merge changes a piece, not recounted over the corpus: `where` says which
        pieces hold a pair, and a heap finds the most frequent pair (lowest ids on a tie).
        """
        special = list(dict.fromkeys(special))
        if type(vocab_size) is not int or not 256 + len(special) <= vocab_size <= MAX_VOCAB_SIZE:
            raise TokenizerError(f"vocab_size must be a whole number from {256 + len(special)} "
                                 f"(256 bytes{' + special tokens' if special else ''}) to "
                                 f"{MAX_VOCAB_SIZE:,}, not {vocab_size!r}.")
        if not text:
            raise TokenizerError("cannot train a tokenizer on empty text.")
        counted = Counter(split_text(text))
        try:
            words = [list(piece.encode("utf-8", "surrogateescape")) for piece in counted]
        except UnicodeEncodeError:
            raise TokenizerError("the text holds a lone surrogate code point, which is no "
                                 "UTF-8: train on valid text.") from None
        freqs = list(counted.values())
        strings = [BYTE_TO_CHAR[b] for b in range(256)]  # id -> token string; id b is byte b
        vocab = {s: i for i, s in enumerate(strings)}
        counts, where = {}, defaultdict(set)
        for w, (ids, f) in enumerate(zip(words, freqs)):
            get_stats(ids, counts, f)
            for pair in zip(ids, ids[1:]):
                where[pair].add(w)
        heap = [(-c, pair) for pair, c in counts.items()]
        heapq.heapify(heap)
        merges = []
        while len(vocab) + len(special) < vocab_size and heap:
            c, pair = heapq.heappop(heap)
            if counts.get(pair, 0) != -c or c == 0:
                continue  # a stale entry: this pair's count has changed since
            a, b = strings[pair[0]], strings[pair[1]]
            merges.append((a, b))
            if a + b not in vocab:  # two merges may spell one token: it keeps one id
                vocab[a + b] = len(strings)
                strings.append(a + b)
            new_id = vocab[a + b]
            changed = set()
            for w in where.pop(pair):
                old = words[w]
                new = merge(old, pair, new_id)
                if len(new) == len(old):
                    continue
                f = freqs[w]
                for p in zip(old, old[1:]):  # take the piece's old pairs out ...
                    counts[p] -= f
                    changed.add(p)
                for p in zip(new, new[1:]):  # ... and its new ones in
                    counts[p] = counts.get(p, 0) + f
                    where[p].add(w)
                    changed.add(p)
                words[w] = new
            counts.pop(pair, None)
            changed.discard(pair)
            for p in changed:
                if counts[p] > 0:
                    heapq.heappush(heap, (-counts[p], p))
                else:
                    counts.pop(p)
        for s in special:
            if s in vocab:
                raise TokenizerError(f"special token {s!r} is also an ordinary token.")
        return cls(vocab, merges, {s: len(vocab) + k for k, s in enumerate(special)})

    # ---- files --------------------------------------------------------------------------------
    def to_dict(self):
        """The `tokenizers` library's tokenizer.json (a ByteLevel BPE, as GPT-2's)."""
        byte_level = {"type": "ByteLevel", "add_prefix_space": self.add_prefix_space,
                      "trim_offsets": True, "use_regex": True}
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}
                             for s, i in sorted(self.special.items(), key=lambda t: t[1])],
            "normalizer": None,
            "pre_tokenizer": byte_level,
            "post_processor": {**byte_level, "trim_offsets": False},
            "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": self.ignore_merges,
                      "vocab": {**self.vocab, **self.special},
                      "merges": [f"{a} {b}" for a, b in self.merges]},
        }

    def to_json(self):
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, data):
        """A tokenizer from a tokenizer.json's contents (a ByteLevel BPE such as GPT-2's).
        What this class cannot do exactly as `tokenizers` does is refused by name."""
        def need(ok, what):
            if not ok:
                raise TokenizerError(f"tokenizer.json: {what}")

        need(isinstance(data, dict), "expected a JSON object.")
        model = data.get("model")
        need(isinstance(model, dict) and model.get("type", "BPE") == "BPE",
             "the model must be a BPE (model.type 'BPE').")
        need(isinstance(model.get("vocab"), dict) and isinstance(model.get("merges"), list),
             "model.vocab must be an object and model.merges a list.")
        for key in ("continuing_subword_prefix", "end_of_word_suffix"):
            need(not model.get(key), f"model.{key} {model.get(key)!r} is not byte-level BPE.")
        for key in ("dropout", "byte_fallback"):
            need(not model.get(key), f"model.{key} {model.get(key)!r} is not supported.")
        need(data.get("normalizer") is None,
             f"a normalizer ({_type(data.get('normalizer'))}) is not supported.")
        pre = data.get("pre_tokenizer")
        need(isinstance(pre, dict) and pre.get("type") == "ByteLevel"
             and pre.get("use_regex", True) is True,
             f"the pre_tokenizer must be ByteLevel with GPT-2's pattern (use_regex), not "
             f"{_type(pre)}.")
        need(_type(data.get("decoder")) in ("ByteLevel", "none"),
             f"the decoder must be ByteLevel, not {_type(data.get('decoder'))}.")
        merges = []
        for m in model["merges"]:
            pair = m.split(" ") if isinstance(m, str) else m
            need(isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair),
                 f"a merge must be 'a b' or ['a', 'b'], not {m!r}.")
            merges.append(tuple(pair))
        vocab, special = dict(model["vocab"]), {}
        for t in data.get("added_tokens") or []:  # matched whole in text, never merged
            need(isinstance(t, dict) and isinstance(t.get("content"), str) and t["content"]
                 and type(t.get("id")) is int, f"an added token must have content and id: {t!r}.")
            if vocab.get(t["content"]) == t["id"]:
                del vocab[t["content"]]  # GPT-2's <|endoftext|> is in both
            special[t["content"]] = t["id"]
        return cls(vocab, merges, special, pre.get("add_prefix_space", False),
                   model.get("ignore_merges", False))

    @classmethod
    def from_files(cls, vocab_path, merges_path, special=("<|endoftext|>",)):
        """GPT-2's vocab.json and merges.txt, read whole (files of one's own: a folder from
        elsewhere is read with bounds by io/formats/gpt2_checkpoint.py)."""
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            return cls.from_vocab_and_merges(vocab, f.read(), merges_path, special)

    @classmethod
    def from_vocab_and_merges(cls, vocab, merges_text, merges_name="merges.txt",
                              special=("<|endoftext|>",)):
        """vocab.json's object (token -> id) and merges.txt's text. Tokens of `special`
        found in the vocabulary are matched whole in text (GPT-2's <|endoftext|>), as
        transformers does."""
        if not isinstance(vocab, dict):
            raise TokenizerError("vocab.json must hold a JSON object (token -> id).")
        merges = []
        for n, line in enumerate(merges_text.split("\n"), 1):
            if not line or (n == 1 and line.startswith("#version")):
                continue
            pair = line.split(" ")
            if len(pair) != 2:
                raise TokenizerError(f"{merges_name}, line {n}: a merge is two tokens and "
                                     f"one space, not {line[:60]!r}.")
            merges.append(tuple(pair))
        vocab = dict(vocab)
        found = {s: vocab.pop(s) for s in special if s in vocab}
        return cls(vocab, merges, found)

    def save_files(self, folder):
        """Write vocab.json and merges.txt (GPT-2's layout) into `folder`."""
        from pathlib import Path
        vocab, merges = (Path(folder) / name for name in GPT2_FILES)
        vocab.write_text(
            json.dumps({**self.vocab, **self.special}, ensure_ascii=False), encoding="utf-8")
        merges.write_text(
            "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges), encoding="utf-8")


VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def visible(text):
    """`text` with white space made visible (' ' -> '␣', newline -> '⏎'), for labels."""
    return "".join(VISIBLE.get(c, c) for c in text)


def _type(part):
    return part.get("type", "?") if isinstance(part, dict) else "none" if part is None else "?"
