"""A GPT-2 checkpoint by name: LittleBaby.from_pretrained and load take a local GPT-2
folder or a Hub repo of that form (openai-community/gpt2's files: config.json,
model.safetensors, tokenizer.json or vocab.json + merges.txt) and read it with from_gpt2;
`little-baby generate` and `finetune` take them too. The Hub is the loopback stand-in
(tests/hub_server.py) and the GPT-2 a tiny one made here with numpy and our own BPE:
nothing is downloaded, no torch is needed."""
import json

import numpy as np
import pytest
from huggingface_hub import HfApi
from safetensors.numpy import save_file

from little_baby import LittleBaby
from little_baby.bpe import BPETokenizer
from little_baby.cli import main
from little_baby.errors import ModelNotFoundError, NotCachedError
from little_baby.io.formats.gpt2 import key_pairs
from little_baby.io.hub.fetch import REPO_ENV
from tests.little_texts import GREEK, english

TEXT = english(40) + GREEK
SHAPE = {"vocab_size": 300, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 2}


@pytest.fixture(autouse=True)
def model_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLE_BABY_STORE", str(tmp_path / "cache"))
    monkeypatch.delenv(REPO_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(TEXT, SHAPE["vocab_size"], special=["<|endoftext|>"])


def tiny_gpt2(folder, bpe, tokenizer_json=True, seed=0):
    """A GPT-2 folder as transformers' save_pretrained writes it (GPT2LMHeadModel's keys,
    tied: no lm_head.weight), its weights random, its tokenizer our byte-level BPE."""
    folder.mkdir(parents=True, exist_ok=True)
    C, V, T = SHAPE["n_embd"], SHAPE["vocab_size"], SHAPE["n_positions"]
    assert bpe.vocab_size == V
    shapes = {"wte.weight": (V, C), "wpe.weight": (T, C), "ln1": (C,), "ln2": (C,),
              "attn.qkv.weight": (C, 3 * C), "attn.qkv.bias": (3 * C,),
              "attn.proj.weight": (C, C), "attn.proj.bias": (C,),
              "net.up.weight": (C, 4 * C), "net.up.bias": (4 * C,),
              "net.down.weight": (4 * C, C), "net.down.bias": (C,)}
    rng = np.random.default_rng(seed)
    weights = {}
    for ours, theirs in key_pairs(SHAPE["n_layer"]):
        tail = ours.split(".", 2)[-1] if ours.startswith("blocks.") else ours
        shape = shapes.get(tail) or (C,)
        base = 1.0 if (tail.endswith("weight") and len(shape) == 1) else 0.0
        weights[theirs] = (base + rng.normal(0, 0.2, shape)).astype(np.float32)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], **SHAPE}))
    if tokenizer_json:
        (folder / "tokenizer.json").write_text(bpe.to_json(), encoding="utf-8")
    else:
        bpe.save_files(folder)
    return folder


def ids_of(bpe, n=20):
    return np.array([list(bpe.encode(TEXT))[:n]])


def upload(folder, repo_id):
    HfApi().create_repo(repo_id, exist_ok=True)
    HfApi().upload_folder(repo_id=repo_id, folder_path=folder)


@pytest.mark.parametrize("tokenizer_json", [True, False], ids=["tokenizer.json", "vocab+merges"])
def test_a_local_gpt2_folder_loads_by_path(tmp_path, bpe, tokenizer_json):
    folder = tiny_gpt2(tmp_path / "gpt2", bpe, tokenizer_json)
    want = LittleBaby.from_gpt2(folder)
    x = ids_of(bpe)
    for baby in (LittleBaby.from_pretrained(str(folder)), LittleBaby.load(folder)):
        assert baby.config.c_tie and baby.tokenizer == want.tokenizer
        np.testing.assert_array_equal(baby.logits(x), want.logits(x))
    assert np.abs(want.logits(x)).max() > 0.1


def test_a_hub_repo_of_gpt2_files_loads_then_loads_offline(hub_env, tmp_path, bpe, monkeypatch):
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    (folder / "pytorch_model.bin").write_bytes(b"not to be fetched")
    repo_id = f"{hub_env.server.user}/tiny-gpt2"
    upload(folder, repo_id)
    options = {"store": tmp_path / "b" / "store", "cache_dir": tmp_path / "b" / "hub"}
    baby = LittleBaby.from_pretrained(repo_id, **options)
    x = ids_of(bpe)
    np.testing.assert_array_equal(baby.logits(x), LittleBaby.from_gpt2(folder).logits(x))
    assert baby.source["repo_id"] == repo_id and baby.config.c_tie
    fetched = {p.name for p in (tmp_path / "b" / "hub").rglob("*") if p.is_file()
               and "snapshots" in p.parts}
    assert fetched == {"config.json", "model.safetensors", "tokenizer.json"}  # never the .bin
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = LittleBaby.from_pretrained(repo_id, local_files_only=True, **options)
    np.testing.assert_array_equal(again.logits(x), baby.logits(x))


def test_a_hub_repo_with_vocab_and_merges_loads(hub_env, tmp_path, bpe):
    folder = tiny_gpt2(tmp_path / "gpt2", bpe, tokenizer_json=False)
    repo_id = f"{hub_env.server.user}/tiny-gpt2-files"
    upload(folder, repo_id)
    baby = LittleBaby.from_pretrained(repo_id, cache_dir=tmp_path / "hub")
    assert baby.tokenizer == BPETokenizer.from_files(folder / "vocab.json", folder / "merges.txt")


def test_what_a_gpt2_repo_lacks_is_named(hub_env, tmp_path, bpe):
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    repo_id = f"{hub_env.server.user}/pickled-gpt2"
    upload(folder, repo_id)
    with pytest.raises(ModelNotFoundError, match="without model.safetensors .*never read"):
        LittleBaby.from_pretrained(repo_id, cache_dir=tmp_path / "hub")
    empty = tmp_path / "empty-hub"
    with pytest.raises(NotCachedError, match="tiny-none"):
        LittleBaby.from_pretrained(f"{hub_env.server.user}/tiny-none", cache_dir=empty,
                                   local_files_only=True)


def test_generate_and_finetune_on_the_command_line(hub_env, tmp_path, bpe, capsys):
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    repo_id = f"{hub_env.server.user}/tiny-gpt2"
    upload(folder, repo_id)
    for model in (repo_id, str(folder)):
        assert main(["generate", model, "--prompt", "The baby", "--max-tokens", "6",
                     "--seed", "1"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("The baby") and len(out) > len("The baby")
    expected = LittleBaby.from_gpt2(folder).generate("The baby", max_new_tokens=6, seed=1)
    assert out.startswith("The baby" + expected)  # the Python API's text, same seed
    corpus = tmp_path / "mine.txt"
    corpus.write_text(english(20), encoding="utf-8")
    assert main(["finetune", str(folder), "--corpus", str(corpus), "--max-iters", "3",
                 "--batch-size", "2", "--eval-interval", "3", "--out", str(tmp_path / "tuned"),
                 "--generate-tokens", "0", "--quiet"]) == 0, capsys.readouterr().err
    tuned = LittleBaby.load(tmp_path / "tuned")
    parent = LittleBaby.from_gpt2(folder)
    assert parent.guid == LittleBaby.load(folder).guid  # the checkpoint's own, each time
    assert tuned.parent_guid == parent.guid and tuned.report["lineage"] == [parent.guid]
    assert tuned.config.c_tie and tuned.tokenizer == parent.tokenizer
    assert tuned.report["final"]["step"] == 3
    x = ids_of(bpe)
    assert not np.array_equal(tuned.logits(x), LittleBaby.from_gpt2(folder).logits(x))
    # the same command on the Hub repo id: fetched, finetuned, the repo named as base_model
    assert main(["finetune", repo_id, "--corpus", str(corpus), "--max-iters", "2",
                 "--batch-size", "2", "--eval-interval", "2", "--out", str(tmp_path / "hub"),
                 "--generate-tokens", "0", "--quiet"]) == 0, capsys.readouterr().err
    from_hub = LittleBaby.load(tmp_path / "hub")
    assert from_hub.report["origin"] == {"kind": "finetuned", "base_model": repo_id}
    card = (from_hub.save_pretrained(tmp_path / "card") / "README.md").read_text("utf-8")
    assert f"base_model: {repo_id}" in card


def test_a_stopped_gpt2_finetune_resumes_exactly(tmp_path, bpe):
    from little_baby.errors import TrainingInterrupted
    from tests.test_train import interrupted_at
    folder, text = tiny_gpt2(tmp_path / "gpt2", bpe), english(60)
    plan = dict(max_iters=12, checkpoint_interval=5, quiet=True)
    full = LittleBaby.load(folder)
    full.fit(text, out=tmp_path / "full", **plan)
    with pytest.raises(TrainingInterrupted):
        interrupted_at(LittleBaby.load(folder), 7).fit(text, out=tmp_path / "cut", **plan)
    resumed = LittleBaby.resume(tmp_path / "cut", corpus=text, quiet=True)
    assert resumed.config.c_tie and resumed.parent_guid == full.parent_guid
    assert resumed.report["final"] == full.report["final"]
    for key, value in full.params.items():
        np.testing.assert_array_equal(resumed.params[key], value)


def test_transformers_short_name_says_which_repo_it_is():
    with pytest.raises(ModelNotFoundError, match="the Hub repo openai-community/gpt2-medium: "):
        LittleBaby.from_pretrained("GPT2-medium")


@pytest.mark.parametrize("n_layer", [10 ** 6, 1], ids=["a-million", "fewer"])
def test_a_config_promising_other_blocks_than_the_weights_hold_is_refused_at_once(
        tmp_path, bpe, n_layer, capsys):
    """Read from the weights file's header before anything is laid out: a config.json of
    10^6 layers took 90 s and 18 GB to refuse, and one of fewer layers than the file holds
    loaded a truncated model without a word."""
    import time
    import tracemalloc
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_layer": n_layer}))
    tracemalloc.start()
    start = time.monotonic()
    try:
        code = main(["generate", str(folder), "--prompt", "The", "--max-tokens", "2"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"holds the weights of {SHAPE['n_layer']} blocks, but config.json promises " \
           f"n_layer = {n_layer:,}" in err
    assert time.monotonic() - start < 10 and peak < 256 * 2 ** 20, peak  # not 18 GB
    assert main(["info", str(folder)]) == 2  # nor does info show 3 billion parameters
    assert "config.json promises" in capsys.readouterr().err


def test_a_fifo_for_weights_is_refused_at_once_not_waited_on(tmp_path, bpe, capsys):
    """A named pipe where model.safetensors should be: opening it to read its header
    would wait for a writer for ever; it is refused in one line instead."""
    import os
    folder = tiny_gpt2(tmp_path / "gpt2", bpe)
    (folder / "model.safetensors").unlink()
    os.mkfifo(folder / "model.safetensors")
    for command in (["info", str(folder)], ["generate", str(folder), "--prompt", "The"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is not a regular file" in err, err
