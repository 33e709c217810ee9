"""Byte-level BPE speed: our tokenizer (little_baby/bpe.py, pure Python) beside the
`tokenizers` library (Rust), on the same text.

- training: merges learnt from the corpus up to --vocab-size tokens (each trainer its own;
  they break ties differently, so the merges may differ a little);
- encoding --encode-mb megabytes with the same vocabulary and merges (ours, loaded into
  `tokenizers` from our tokenizer.json), first with an empty word cache, then again;
  the ids are checked to be identical.

`tokenizers` is not a dependency of the project: `pip install tokenizers` for its column.

    LITTLE_BABY_INPUTS=../shared/inputs python benchmarks/bpe_tokenizer.py
    python benchmarks/bpe_tokenizer.py --corpus notes.txt --vocab-size 8192
"""
import argparse
import os
import time
from pathlib import Path

from little_baby.bpe import BPETokenizer
from little_baby.training.data import find_input


def timed(f):
    start = time.perf_counter()
    result = f()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a UTF-8 text (default: Tiny Shakespeare)")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--encode-mb", type=float, default=1.0,
                        help="megabytes of text to encode (the corpus repeated as needed)")
    args = parser.parse_args()
    path = args.corpus or find_input("shakespeare.txt")
    if path is None:
        parser.error("shakespeare.txt not found: give --corpus FILE or set $LITTLE_BABY_INPUTS.")
    text = path.read_text(encoding="utf-8")
    size = int(args.encode_mb * 1_000_000)
    sample = (text * (size // max(1, len(text)) + 1))[:size]
    try:
        import tokenizers
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:
        tokenizers = None

    print(f"{path.name}: {len(text):,} characters; vocabulary {args.vocab_size:,}; "
          f"encoding {len(sample):,} characters; {os.cpu_count()} CPU(s) visible")
    ours, ours_train = timed(lambda: BPETokenizer.train(text, args.vocab_size))
    ids, ours_cold = timed(lambda: ours.encode(sample))
    _, ours_warm = timed(lambda: ours.encode(sample))
    assert ours.decode(ids) == sample
    rows = [("little_baby (Python)", ours_train, ours_cold, ours_warm, len(ids))]

    if tokenizers is not None:
        def train_theirs():
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            tok.train_from_iterator([text], trainers.BpeTrainer(
                vocab_size=args.vocab_size, show_progress=False,
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
            return tok
        _, their_train = timed(train_theirs)
        same = Tokenizer.from_str(ours.to_json())  # our vocabulary and merges
        theirs, their_cold = timed(lambda: same.encode(sample).ids)
        _, their_warm = timed(lambda: same.encode(sample).ids)
        if theirs != list(ids):
            raise SystemExit("the ids differ from the tokenizers library's: a bug, please report it.")
        rows.append((f"tokenizers {tokenizers.__version__} (Rust)", their_train, their_cold,
                     their_warm, len(theirs)))
    else:
        print("(tokenizers is not installed: pip install tokenizers for its column)")

    print(f"{'':28} {'train':>9} {'encode':>9} {'again':>9} {'tokens':>10}")
    for name, train, cold, warm, n in rows:
        print(f"{name:28} {train:8.2f}s {cold:8.2f}s {warm:8.2f}s {n:10,}")
    if tokenizers is not None:
        print("identical ids on the same vocabulary and merges: yes")


if __name__ == "__main__":
    main()
