"""A byte-level BPE model as people see it: `little-baby info` (also on a GPT-2 folder),
its model card and the Space's attention and next-token pictures show its tokens as text
pieces (white space visible, the bytes of a split character escaped, never U+FFFD). Info
and the card give a char or word model's vocabulary in its tokenizer's own line too."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from little_baby import BabyConfig, LittleBaby
from little_baby.bpe import BPETokenizer
from little_baby.cli import main
from little_baby.io.hub.card import model_card
from little_baby.tokenizer import tokenizer_for_text
from tests.little_texts import english

TEXT = english(30)
GREEK = "Ισμήνη"


@pytest.fixture(scope="module")
def bpe_folder(tmp_path_factory):
    """A tied BPE model (no merge joins Greek letters: each is two byte tokens), saved."""
    tokenizer = BPETokenizer.train(TEXT, 320, special=["<|endoftext|>"])
    baby = LittleBaby(BabyConfig(c_tokenizer="bpe", c_tie=True, n_ctx=24, n_emb=16,
                                 head_size=16, n_heads=2, n_layers=1), tokenizer)
    folder = tmp_path_factory.mktemp("bpe") / "model"
    baby.save(folder)
    return folder


def test_info_shows_a_bpe_vocabulary_with_text_pieces(bpe_folder, capsys):
    assert main(["info", str(bpe_folder)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("vocabulary"))
    merges = len(LittleBaby.load(bpe_folder).tokenizer.merges)
    assert line.startswith(f"vocabulary 320 tokens, byte-level BPE: 256 bytes, {merges} merges, "
                           f"1 special (<|endoftext|>); longest tokens: '␣")


@pytest.mark.parametrize("kind, described", [
    ("char", "9 tokens, one per character"),
    ("word", "7 tokens, one per word, run of white space or punctuation mark"),
    ("bpe", "260 tokens, byte-level BPE: 256 bytes, 4 merges, 0 special; longest tokens: '"),
])
def test_info_and_the_card_describe_each_kind_of_vocabulary(kind, described, tmp_path, capsys):
    """Every tokenizer says its own line (describe): info and the card show it as it is."""
    tokenizer = tokenizer_for_text(kind, "to be, or not to be\n", 260 if kind == "bpe" else None)
    baby = LittleBaby(BabyConfig(c_tokenizer=kind, n_ctx=8, n_emb=8, head_size=8, n_heads=1,
                                 n_layers=1), tokenizer)
    assert main(["info", str(baby.save(tmp_path / kind))]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("vocabulary"))
    assert line == f"vocabulary {tokenizer.describe(examples=8)}"
    assert line.startswith(f"vocabulary {described}")
    row = next(l for l in model_card(baby).splitlines() if l.startswith("| tokenizer |"))
    assert row == f"| tokenizer | {tokenizer.describe(examples=6)} |"
    assert row.startswith(f"| tokenizer | {described}")


def test_info_reads_a_gpt2_folder_without_its_weights(tmp_path, capsys, monkeypatch):
    from tests.test_gpt2_hub import tiny_gpt2, TEXT as GPT2_TEXT, SHAPE
    bpe = BPETokenizer.train(GPT2_TEXT, SHAPE["vocab_size"], special=["<|endoftext|>"])
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    n_params = LittleBaby.from_gpt2(folder).n_params
    assert "GPT-2 checkpoint" in out and "from_gpt2" in out
    assert f"parameters {n_params:,} (the output layer tied to wte)" in out
    assert "c_tie=True" in out and "vocabulary 300 tokens, byte-level BPE" in out
    import safetensors.numpy

    def no_weights(*args, **kwargs):
        raise AssertionError("info read the weights")
    from little_baby.io.store import model_folder
    for module in (safetensors.numpy, model_folder):  # only the file's header is read
        monkeypatch.setattr(module, "load_file", no_weights)
    assert main(["info", str(folder), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["n_params"] == n_params and shown["config"]["c_tokenizer"] == "bpe"
    (folder / "model.safetensors").write_bytes(b"")  # a spoiled weights file: one line
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a readable safetensors file" in err


def test_the_card_names_the_bpe_and_the_tied_head(bpe_folder):
    card = model_card(LittleBaby.load(bpe_folder))
    assert "- byte-level-bpe" in card
    assert "| output layer | tied: the token embedding transposed, no bias (GPT-2's) |" in card
    row = next(l for l in card.splitlines() if l.startswith("| tokenizer |"))
    assert "320 tokens, byte-level BPE: 256 bytes" in row and "<\\|endoftext\\|>" in row
    assert row.count("|") - row.count("\\|") == 3  # still one table row of two cells


def test_the_space_shows_bpe_tokens_as_text_pieces(bpe_folder):
    pytest.importorskip("gradio", reason='the Space needs it: pip install -e ".[dev]"')
    pytest.importorskip("plotly", reason='the Space needs it: pip install -e ".[dev]"')
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spaces"))
    from baby_space.handlers import Handlers
    from baby_space.models import Shelf, choice_for
    handlers = Handlers(Shelf([choice_for(str(bpe_folder))], device="cpu"))
    prompt = "The island " + GREEK
    *_, last = handlers.inspect("model", prompt, 1, 1)
    state, heat = last[0], last[1]
    baby = LittleBaby.load(bpe_folder)
    ids = list(baby.tokenizer.encode(prompt))
    assert state["tokens"] == [baby.tokenizer.token_text(i) for i in ids]
    assert "\ufffd" not in "".join(state["tokens"])
    assert state["tokens"][-2:] == ["\\xce", "\\xb7"]  # η's two bytes, each its own token
    assert "".join(t for t in state["tokens"] if not t.startswith("\\x")) == "The island "
    assert "␣island" in list(heat.layout.yaxis.ticktext)
    bars = handlers.probability_view(state, 1.0, 0, 1.0)
    labels = list(bars.layout.xaxis.ticktext)
    top = np.argsort(-np.asarray(state["logits"]), kind="stable")[:len(labels)]
    assert labels == [baby.tokenizer.token_text(int(i)).replace(" ", "␣").replace("\n", "⏎")
                      for i in top]
    assert "\ufffd" not in "".join(labels)
    np.testing.assert_allclose(state["logits"], np.asarray(baby.logits(np.array([ids])))[0, -1],
                               rtol=1e-6)


def test_the_space_serves_a_gpt2_folder(tmp_path):
    """A GPT-2 checkpoint (transformers' files) on the shelf opens through from_pretrained
    (from_gpt2): its attention labels are its tokens' text."""
    pytest.importorskip("gradio", reason='the Space needs it: pip install -e ".[dev]"')
    pytest.importorskip("plotly", reason='the Space needs it: pip install -e ".[dev]"')
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spaces"))
    from baby_space.handlers import Handlers
    from baby_space.models import Shelf, choice_for
    from tests.test_gpt2_hub import SHAPE, TEXT as GPT2_TEXT, tiny_gpt2
    bpe = BPETokenizer.train(GPT2_TEXT, SHAPE["vocab_size"], special=["<|endoftext|>"])
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    handlers = Handlers(Shelf([choice_for(str(folder))], device="cpu"))
    *_, last = handlers.inspect("gpt2", "The island", 1, 1)
    state = last[0]
    assert state["tokens"] == [bpe.token_text(i) for i in bpe.encode("The island")]
    expected = LittleBaby.from_gpt2(folder).logits(np.array([list(bpe.encode("The island"))]))
    np.testing.assert_allclose(state["logits"], np.asarray(expected)[0, -1], rtol=1e-6)
