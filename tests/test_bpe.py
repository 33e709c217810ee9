"""The byte-level BPE tokenizer (little_baby/bpe.py): GPT-2's table and pattern, ids equal
to the `tokenizers` library's for the same vocabulary and merges, lossless round trips
over any bytes, incremental training equal to the plain recount, files both ways."""
import importlib.util
import json
import random
import time
import unicodedata

import pytest

from little_baby.bpe import (BYTE_TO_CHAR, GPT2_PATTERN, BPETokenizer, get_stats, merge,
                             split_text, token_bytes, token_string)
from little_baby.config import BabyConfig
from little_baby.errors import TokenizerError
from little_baby.training.data import find_input
from tests.little_texts import GREEK, english

HAVE_TOKENIZERS = importlib.util.find_spec("tokenizers") is not None
needs_tokenizers = pytest.mark.skipif(
    not HAVE_TOKENIZERS, reason="the `tokenizers` library is not installed "
                                "(pip install tokenizers): the exactness oracle is missing")

# English, Greek, emoji (with joiners), code, runs of white space, contractions, digits,
# control characters, Unicode spaces and marks, a special token in the middle
VARIED = (
    "Hello world! It's 2024; they'll say we've done it, I'm sure you'd agree, 'tis so.\n"
    "ΑΝΤΙΓΟΝΗ: Ισμήνη, αδελφούλα μου — Ξέρεις; κόσμε 🎉🎉 👩‍👩‍👧 ❤️ 🇬🇷\n"
    "def f(x):\n    return x ** 2  # 12345 and 3.14159e-10\n\n\n\t\ttabs\t \n"
    "   leading    spaces   and trailing   \r\n"
    "ctrl:\x00\x01\x07\x1b[0m\x1c\x1d\x1e\x1f\x7f\x85 nbsp:\xa0x\u2028y\u3000z\u200b "
    "marks: e\u0301 n\u0303 ١٢٣ ² Ⅻ 中文字符 日本語 한국어 <|endoftext|>after  'S 'LL"
    "CAPS'LL don't WON'T x'sy\n")


def corpus():
    return english(120) + GREEK + VARIED * 3 + "a aa aaa aaaa aaaaa 1 11 111 1111 ...!!?? \n" * 5


def random_text(rng, n):
    """n code points from across Unicode with many spaces, quotes, letters and digits, so
    every branch of the pattern is met: no lone surrogates, and only characters Python's
    unicodedata knows (the `tokenizers` library's regex engine lags the `regex` module by
    a Unicode version or two: characters assigned since are classed differently)."""
    def one():
        c = draw()
        while unicodedata.category(c) == "Cn":
            c = draw()
        return c

    def draw():
        kind = rng.randrange(6)
        if kind == 0:
            return rng.choice(" \t\n\r\x0b\x0c\x85\xa0\u2028\u3000'sltdvmre0123")
        if kind == 1:
            return chr(rng.randrange(0x20, 0x7f))
        if kind == 2:
            return chr(rng.randrange(0, 0x250))
        if kind == 3:
            c = rng.randrange(0, 0x10000 - 0x800)
            return chr(c if c < 0xd800 else c + 0x800)  # past the surrogates
        return chr(rng.choice([rng.randrange(0x1f300, 0x1fa00), rng.randrange(0x10000, 0x110000)]))
    return "".join(one() for _ in range(n))


@pytest.fixture(scope="module")
def ours():
    return BPETokenizer.train(corpus(), 600, special=["<|endoftext|>"])


# ---- GPT-2's table and pattern ------------------------------------------------------------
def test_byte_table_is_gpt2s():
    chars = [BYTE_TO_CHAR[b] for b in range(256)]
    assert len(set(chars)) == 256 and all(c.isprintable() and not c.isspace() for c in chars)
    for b in range(256):  # printable Latin-1 stands for itself, the rest comes from U+0100 up
        latin = chr(b)
        if latin.isprintable() and not latin.isspace() and b != 0xad:
            assert chars[b] == latin
        else:
            assert 0x100 <= ord(chars[b]) < 0x100 + 68
    assert token_string(b" the\n") == "\u0120the\u010a"  # GPT-2's 'Ġthe' + 'Ċ'
    data = bytes(range(256))
    assert token_bytes(token_string(data)) == data
    with pytest.raises(TokenizerError, match="not byte-level"):
        token_bytes("\u4e2d")


@needs_tokenizers
def test_pattern_cuts_as_tokenizers_byte_level():
    from tokenizers import pre_tokenizers
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    rng = random.Random(1)
    for text in [VARIED, *(random_text(rng, rng.randrange(1, 60)) for _ in range(300))]:
        theirs = [token_bytes(p) for p, _ in pre.pre_tokenize_str(text)]
        assert [p.encode() for p in split_text(text)] == theirs, repr(text)


# ---- exactness against `tokenizers` ----------------------------------------------------------
def _theirs(tok):
    from tokenizers import Tokenizer
    return Tokenizer.from_str(tok.to_json())


@needs_tokenizers
def test_ids_equal_tokenizers_on_our_merges(ours):
    hf = _theirs(ours)
    assert list(ours.encode(VARIED)) == hf.encode(VARIED).ids
    rng = random.Random(2)
    for _ in range(400):
        text = random_text(rng, rng.randrange(0, 50))
        assert list(ours.encode(text)) == hf.encode(text).ids, repr(text)
    assert hf.decode(hf.encode(VARIED).ids, skip_special_tokens=False) == VARIED


@needs_tokenizers
@pytest.mark.parametrize("prefix_space", [False, True])
def test_ids_equal_tokenizers_on_their_merges(tmp_path, prefix_space):
    """A ByteLevel BPE trained by `tokenizers` itself (its ids are not ours: its bytes
    come in another order), read from its tokenizer.json and from vocab.json + merges.txt."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator([corpus()], trainers.BpeTrainer(
        vocab_size=700, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf.save(str(tmp_path / "tokenizer.json"))
    tok = BPETokenizer.from_dict(json.loads((tmp_path / "tokenizer.json").read_text("utf-8")))
    assert tok.vocab_size == hf.get_vocab_size() and len(tok.merges) > 300
    rng = random.Random(3)
    for text in [VARIED, corpus()[:3000], *(random_text(rng, rng.randrange(0, 50)) for _ in range(300))]:
        assert list(tok.encode(text)) == hf.encode(text).ids, repr(text)
        assert tok.decode(tok.encode(text)) == hf.decode(hf.encode(text).ids,
                                                        skip_special_tokens=False)
    if not prefix_space:
        hf.model.save(str(tmp_path))  # vocab.json + merges.txt
        files = BPETokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt")
        assert files == tok
        assert list(files.encode(VARIED)) == hf.encode(VARIED).ids


@needs_tokenizers
def test_transformers_fast_tokenizer_loads_ours(ours, tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    (tmp_path / "tokenizer.json").write_text(ours.to_json(), encoding="utf-8")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"),
                                                eos_token="<|endoftext|>")
    assert fast.encode(VARIED) == list(ours.encode(VARIED))
    assert fast.decode(fast.encode(VARIED)) == VARIED


def test_long_pieces_merge_through_the_heap_as_the_loop_does(ours, monkeypatch):
    """Text without spaces is one long piece: the heap gives the loop's ids, quickly."""
    import little_baby.bpe as bpe
    rng = random.Random(5)
    letters = "".join(c for c in corpus() if c.isalpha())
    texts = [letters[:3000], "1234567890" * 300, "=-" * 1500, "ab" * 1500, "ααβ" * 900,
             "".join(rng.choice("thequickbrownfoxαβγ") for _ in range(3000)),
             *("".join(c for c in random_text(rng, 2000) if not c.isspace()) for _ in range(3))]
    heap = [list(BPETokenizer.from_dict(ours.to_dict()).encode(t)) for t in texts]
    monkeypatch.setattr(bpe, "LONG_PIECE", 10 ** 9)  # the readable loop only
    loop = [list(BPETokenizer.from_dict(ours.to_dict()).encode(t)) for t in texts]
    assert heap == loop and len(heap[0]) < 0.8 * len(texts[0])  # merges were made
    if HAVE_TOKENIZERS:
        hf = _theirs(ours)
        assert heap == [hf.encode(t).ids for t in texts]
    long = (letters * 40)[:100_000]  # one piece of 100,000 letters
    start = time.perf_counter()
    monkeypatch.setattr(bpe, "LONG_PIECE", 256)
    assert ours.decode(ours.encode(long)) == long
    assert time.perf_counter() - start < 10, "a long piece took quadratic time"


# ---- lossless ----------------------------------------------------------------------------
def test_decode_encode_is_identity_for_any_bytes(ours):
    rng = random.Random(4)
    cases = [b"", bytes(range(256)), b"\xff\xfe\x80 \xc3\x28 \xe2\x82 \xf0\x9f\x8e",
             VARIED.encode()]
    for _ in range(500):
        n = rng.randrange(0, 80)
        if rng.random() < 0.5:  # random bytes: mostly no valid UTF-8
            cases.append(bytes(rng.randrange(256) for _ in range(n)))
        else:  # valid UTF-8 with some bytes knocked out
            data = bytearray(random_text(rng, n).encode())
            for _ in range(rng.randrange(3)):
                if data:
                    del data[rng.randrange(len(data))]
            cases.append(bytes(data))
    for data in cases:
        assert ours.decode_bytes(ours.encode_bytes(data)) == data
    for _ in range(300):
        text = random_text(rng, rng.randrange(0, 80))
        assert ours.decode(ours.encode(text)) == text
    assert ours.decode(ours.encode(VARIED)) == VARIED


def test_special_tokens_are_whole_and_merges_stay_inside_pieces(ours):
    eot = ours.special["<|endoftext|>"]
    ids = list(ours.encode("the end<|endoftext|>The start"))
    assert ids.count(eot) == 1 and ours.decode(ids) == "the end<|endoftext|>The start"
    assert eot not in ours.encode_bytes(b"<|endoftext|>")  # bytes are never special
    for text in ("hello world", "x'll y's 12ab"):
        pieces = [ours.decode_bytes([i]) for i in ours.encode(text)]
        cuts = [p.encode() for p in split_text(text)]
        joined, k = b"", 0  # every token lies inside one piece
        for p in pieces:
            joined += p
            if joined == cuts[k]:
                joined, k = b"", k + 1
            assert cuts[k].startswith(joined) if joined else True
        assert k == len(cuts)


def test_decode_stream_holds_split_characters(ours):
    text = "ok 🎉 κόσμε\x85"
    ids = ours.encode_bytes(text.encode())
    pieces = list(ours.decode_stream(ids))
    assert "".join(pieces) == text and len(pieces) == len(ids)
    assert "\ufffd" not in "".join(pieces)
    broken = list(ours.decode_stream(ours.encode_bytes("🎉".encode()[:3])))
    assert "".join(broken) == "\ufffd" == ours.decode(ours.encode_bytes("🎉".encode()[:3]))
    # each token readable: its text, or the escapes of a character's partial bytes
    part = next(i for i in range(ours.vocab_size) if len(ours.decode_bytes([i])) == 1
                and ours.decode_bytes([i])[0] >= 0x80)
    assert ours.token_text(part) == "\\x" + ours.decode_bytes([part]).hex()
    assert ours.symbols[ours.encode(" the")[0]] == " the" and len(ours.symbols) == ours.vocab_size


# ---- training ----------------------------------------------------------------------------
def naive_train(text, vocab_size):
    """minbpe's quadratic trainer: recount every pair after every merge; the same
    tie-break (most frequent, then the lowest pair of ids)."""
    pieces = [list(p.encode()) for p in split_text(text)]
    strings = [BYTE_TO_CHAR[b] for b in range(256)]
    vocab, merges = {s: i for i, s in enumerate(strings)}, []
    while len(vocab) < vocab_size:
        counts = {}
        for p in pieces:
            get_stats(p, counts)
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        a, b = strings[pair[0]], strings[pair[1]]
        merges.append((a, b))
        if a + b not in vocab:
            vocab[a + b] = len(strings)
            strings.append(a + b)
        pieces = [merge(p, pair, vocab[a + b]) for p in pieces]
    return vocab, merges


def test_incremental_training_equals_recounting():
    text = english(30) + GREEK[:400] + VARIED
    tok = BPETokenizer.train(text, 420)
    vocab, merges = naive_train(text, 420)
    assert tok.merges == merges and tok.vocab == vocab and tok.vocab_size == 420
    tiny = BPETokenizer.train("ab ab ab", 300)  # runs out of pairs before 300
    assert tiny.vocab_size < 300 and tiny.decode(tiny.encode("ab ab ba")) == "ab ab ba"


def test_training_compresses_and_encodes_its_corpus():
    text = english(200)
    tok = BPETokenizer.train(text, 512)
    ids = tok.encode(text)
    assert tok.decode(ids) == text and len(ids) < len(text.encode()) / 3
    assert max(ids) < tok.vocab_size and tok.expand(text) == []


# ---- files -------------------------------------------------------------------------------
def test_files_round_trip(ours, tmp_path):
    again = BPETokenizer.from_dict(json.loads(ours.to_json()))
    assert again == ours and list(again.encode(VARIED)) == list(ours.encode(VARIED))
    ours.save_files(tmp_path)
    assert BPETokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt") == ours
    assert (tmp_path / "merges.txt").read_text("utf-8").startswith("#version: 0.2\n")


@pytest.mark.parametrize("change, message", [
    (lambda d: d["model"].update(type="WordPiece"), "must be a BPE"),
    (lambda d: d.update(normalizer={"type": "NFC"}), "normalizer \\(NFC\\)"),
    (lambda d: d.update(pre_tokenizer={"type": "Whitespace"}), "must be ByteLevel"),
    (lambda d: d["model"].update(dropout=0.1), "dropout"),
    (lambda d: d["model"].update(continuing_subword_prefix="##"), "continuing_subword_prefix"),
    (lambda d: d["model"]["merges"].append("Ġzz qq"), "not in the vocabulary"),
    (lambda d: d["model"]["merges"].append(["a"]), "a merge must be"),
    (lambda d: d["model"]["vocab"].pop("a"), "ids .* must be 0..|lacks"),
    (lambda d: d["model"]["vocab"].update({"中": 10_000}), "must be 0..|not byte-level"),
])
def test_unreadable_tokenizer_json_is_refused_by_name(ours, change, message):
    data = json.loads(ours.to_json())
    change(data)
    with pytest.raises(TokenizerError, match=message):
        BPETokenizer.from_dict(data)


def test_bad_training_settings_are_refused():
    with pytest.raises(TokenizerError, match="vocab_size must be a whole number from 256"):
        BPETokenizer.train("abc", 100)
    with pytest.raises(TokenizerError, match="empty text"):
        BPETokenizer.train("", 300)
    with pytest.raises(TokenizerError, match="lone surrogate"):
        BPETokenizer.train("abc", 300).encode("a\ud800b")
    with pytest.raises(TokenizerError, match="lone surrogate"):
        BPETokenizer.train("a\ud800b", 300)
    with pytest.raises(TokenizerError, match="non-empty token strings"):
        BPETokenizer.train("abc", 300, special=[""])
    with pytest.raises(TokenizerError, match="a merge is a pair"):
        BPETokenizer({BYTE_TO_CHAR[b]: b for b in range(256)}, [("a", "b", "c")])
    assert GPT2_PATTERN.startswith("'s|'t|'re|'ve|'m|'ll|'d")


# ---- Tiny Shakespeare: the speeds -----------------------------------------------------
SHAKESPEARE = find_input("shakespeare.txt")


@pytest.mark.skipif(SHAKESPEARE is None, reason="shakespeare.txt not found "
                    "($LITTLE_BABY_INPUTS, inputs/ or ../shared/inputs)")
def test_shakespeare_trains_to_4096_in_a_minute_and_encodes_fast():
    text = SHAKESPEARE.read_text(encoding="utf-8")
    start = time.perf_counter()
    tok = BPETokenizer.train(text, 4096)
    trained = time.perf_counter() - start
    start = time.perf_counter()
    ids = tok.encode(text[:1_000_000])
    encoded = time.perf_counter() - start
    assert tok.vocab_size == 4096 and trained < 60, f"training took {trained:.1f} s"
    assert encoded < 10, f"encoding 1 MB took {encoded:.1f} s"
    assert tok.decode(ids) == text[:1_000_000] and len(ids) < 1_000_000 / 3


# ---- a BPE baby: train, save, load, generate, finetune, the CLI -------------------------------
def test_a_bpe_baby_trains_saves_loads_generates_and_finetunes(tmp_path):
    import math

    from little_baby import LittleBaby
    from little_baby.training.evaluate import heldout_loss
    from tests.little_texts import TINY
    text = VARIED + english(150)
    baby = LittleBaby.train_new({**TINY, "c_tokenizer": "bpe"}, text, vocab_size=320,
                                max_iters=4, out=tmp_path / "m", quiet=True)
    split = int(len(text) * baby.config.r_split)
    assert baby.tokenizer == BPETokenizer.train(text[:split], 320)  # the held-out part unseen
    saved = json.loads((tmp_path / "m" / "tokenizer.json").read_text("utf-8"))
    assert saved["model"]["type"] == "BPE"
    loaded = LittleBaby.load(tmp_path / "m")
    assert loaded.config.c_tokenizer == "bpe" and loaded.tokenizer == baby.tokenizer
    assert loaded.generate("The baby", 12, seed=3) == baby.generate("The baby", 12, seed=3)
    from little_baby.engine.sampling import check_settings, generate_ids
    pieces = list(loaded.stream("κόσμε 🎉", 60, temperature=3.0, seed=1))
    ids = list(generate_ids(loaded.transformer, loaded.backend,
                            list(loaded.tokenizer.encode("κόσμε 🎉")),
                            *check_settings(60, 3.0, seed=1), True))
    assert len(pieces) >= 60 and "".join(pieces) == loaded.tokenizer.decode(ids)
    # it drew characters split over tokens, which token-by-token decoding would break
    assert "".join(loaded.tokenizer.decode([i]) for i in ids) != "".join(pieces)
    corpus, final = baby.report["corpus"], baby.report["final"]
    # it holds out exactly what a char model holds out: the characters after the cut
    assert corpus["n_val_chars"] == len(text) - split
    assert corpus["n_val"] == len(baby.tokenizer.encode(text[split:]))
    assert corpus["n_train"] == len(baby.tokenizer.encode(text[:split]))
    assert final["val_bits_per_char"] == pytest.approx(
        final["val_loss"] / math.log(2) * corpus["n_val"] / corpus["n_val_chars"])
    assert corpus["n_val_chars"] > 1.5 * corpus["n_val"]  # a BPE token is several characters
    held = heldout_loss(loaded, text)
    assert held["bits_per_char"] < held["bits_per_token"]
    loaded.fit("Ισμήνη 🎉 something new\n" * 40, max_iters=2, out=tmp_path / "f", quiet=True)
    assert loaded.tokenizer == baby.tokenizer and loaded.report["corpus"]["new_symbols"] == []
    if HAVE_TOKENIZERS:  # the `tokenizers` library reads the model's tokenizer.json as it is
        from tokenizers import Tokenizer
        hf = Tokenizer.from_file(str(tmp_path / "m" / "tokenizer.json"))
        assert hf.encode(VARIED).ids == list(loaded.tokenizer.encode(VARIED))


def test_cli_trains_a_bpe_baby_and_says_bits_per_character(tmp_path, capsys):
    from little_baby.cli import main
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(english(150), encoding="utf-8")
    code = main(["train", "--corpus", str(corpus), "--tokenizer", "bpe", "--vocab-size", "300",
                 "--max-iters", "3", "--n-ctx", "8", "--n-emb", "8", "--head-size", "8",
                 "--n-heads", "2", "--n-layers", "1", "--batch-size", "4",
                 "--out", str(tmp_path / "m"), "--generate-tokens", "5"])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "m" / "report.json").read_text("utf-8"))
    config = json.loads((tmp_path / "m" / "config.json").read_text("utf-8"))
    assert code == 0 and config["c_tokenizer"] == "bpe"
    assert f"validation {report['final']['val_bits_per_char']:.4f} bits per character " \
           f"(300 bpe tokens)" in out
    code = main(["generate", str(tmp_path / "m"), "--prompt", "Ισμήνη 🎉 said", "--max-tokens",
                 "8", "--seed", "1"])
    assert code == 0 and capsys.readouterr().out.startswith("Ισμήνη 🎉 said")
    code = main(["train", "--corpus", str(corpus), "--vocab-size", "300", "--max-iters", "1",
                 "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code != 0 and "vocab_size is for c_tokenizer 'bpe' only" in err


def test_a_stopped_bpe_run_resumes_exactly(tmp_path):
    import numpy as np

    from little_baby import LittleBaby
    from little_baby.errors import TrainingInterrupted
    from tests.little_texts import TINY
    from tests.test_train import interrupted_at
    text = english(100) + GREEK
    tok = BPETokenizer.train(text, 300)
    config = BabyConfig(**TINY, c_tokenizer="bpe")
    plan = dict(max_iters=12, checkpoint_interval=5, quiet=True)
    full = LittleBaby(config, tok)
    full.fit(text, out=tmp_path / "full", **plan)
    with pytest.raises(TrainingInterrupted):
        interrupted_at(LittleBaby(config, tok), 7).fit(text, out=tmp_path / "cut", **plan)
    resumed = LittleBaby.resume(tmp_path / "cut", corpus=text, quiet=True)
    assert resumed.tokenizer == tok and resumed.report["final"] == full.report["final"]
    for key, value in full.params.items():
        np.testing.assert_array_equal(resumed.params[key], value)


def test_a_bpe_run_begun_with_the_older_token_split_is_refused_not_resumed_on_other_data(
        tmp_path):
    """Before BPE text was cut in characters (data.encode_split), a run cut its tokens: its
    checkpoint records other part sizes, and resuming it on this split would train on
    other data. It is refused in words, the checkpoint left as it was."""
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from little_baby import LittleBaby
    from little_baby.errors import TrainingError, TrainingInterrupted
    from little_baby.io.store.checkpoint import CHECKPOINT
    from tests.little_texts import TINY
    from tests.test_train import interrupted_at
    text = english(100) + GREEK
    tok = BPETokenizer.train(text, 300)
    config = BabyConfig(**TINY, c_tokenizer="bpe")
    with pytest.raises(TrainingInterrupted):
        interrupted_at(LittleBaby(config, tok), 7).fit(
            text, out=tmp_path / "cut", max_iters=12, checkpoint_interval=5, quiet=True)
    path = tmp_path / "cut" / CHECKPOINT
    with safe_open(str(path), "numpy") as f:
        meta = f.metadata()
    state = json.loads(meta["state"])
    ids = tok.encode(text)  # the older split: 90 % of the whole text's tokens
    old = int(0.9 * len(ids))
    assert old != state["report"]["corpus"]["n_train"]  # the two cuts differ on this text
    state["report"]["corpus"].update(n_train=old, n_val=len(ids) - old)
    save_file(load_file(str(path)), str(path), metadata={**meta, "state": json.dumps(state)})
    before = path.read_bytes()
    with pytest.raises(TrainingError, match="an older version cut BPE text differently"):
        LittleBaby.resume(tmp_path / "cut", corpus=text, quiet=True)
    assert path.read_bytes() == before


def test_a_bpe_baby_goes_to_the_hub_and_comes_back(hub_env, tmp_path):
    import numpy as np
    from huggingface_hub import ModelCard

    from little_baby import LittleBaby
    from tests.little_texts import TINY
    text = VARIED + english(150)
    baby = LittleBaby.train_new({**TINY, "c_tokenizer": "bpe"}, text, vocab_size=320,
                                max_iters=3, out=tmp_path / "m", quiet=True)
    repo_id = f"{hub_env.server.user}/bpe-baby"
    baby.push_to_hub(repo_id)
    back = LittleBaby.from_pretrained(repo_id, cache_dir=tmp_path / "elsewhere")
    assert back.config.c_tokenizer == "bpe" and back.tokenizer == baby.tokenizer
    ids = np.array([list(baby.tokenizer.encode(VARIED))[:8]])
    np.testing.assert_array_equal(back.logits(ids), baby.logits(ids))
    assert back.generate("κόσμε 🎉", 12, seed=1) == baby.generate("κόσμε 🎉", 12, seed=1)
    assert "byte-level-bpe" in ModelCard.load(repo_id).data.tags
