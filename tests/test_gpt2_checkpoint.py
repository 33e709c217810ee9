"""GPT-2 checkpoints without torch (io/formats/gpt2_checkpoint.py): random GPT-2s made by
transformers, saved as save_pretrained does, read back by LittleBaby.from_gpt2 with numpy
and safetensors alone; logits and greedy tokens equal transformers' GPT2LMHeadModel's.
Nothing is downloaded: the byte-level BPE is trained here by `tokenizers`."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (the oracle, GPT2LMHeadModel)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed")

from safetensors.numpy import load_file, save_file  # noqa: E402

from little_baby import LittleBaby  # noqa: E402
from little_baby.engine.sampling import check_settings, generate_ids  # noqa: E402
from little_baby.errors import ConversionError  # noqa: E402
from tests.little_texts import GREEK, english  # noqa: E402

TEXT = english(60) + GREEK + "It's 2024; they'll see 🎉 code: x = f(y) ** 2\n"


@pytest.fixture(scope="module")
def fast_tokenizer(tmp_path_factory):
    """A ByteLevel BPE of 420 tokens trained by `tokenizers`, as PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([TEXT], trainers.BpeTrainer(
        vocab_size=420, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


def random_gpt2(fast_tokenizer, folder, seed=0, **settings):
    """A GPT2LMHeadModel with every weight drawn at random (LayerNorms and biases too),
    saved with its tokenizer into `folder`; returns the model (eval mode)."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(**{
        "vocab_size": len(fast_tokenizer), "n_positions": 96, "n_embd": 32, "n_layer": 2,
        "n_head": 4, **settings})
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if "ln" in name else 0.1) + ("ln" in name and
                                                                          "weight" in name))
    model.save_pretrained(folder)
    fast_tokenizer.save_pretrained(folder)
    return model


def their_logits(model, ids, dtype=torch.float32):
    with torch.no_grad():
        return model.to(dtype)(torch.tensor([ids])).logits[0].numpy()


@pytest.mark.parametrize("settings", [
    {},
    {"n_embd": 48, "n_head": 3, "n_layer": 3, "n_inner": 96, "scale_attn_by_inverse_layer_idx": True},
    {"n_embd": 64, "n_head": 8, "n_layer": 1, "layer_norm_epsilon": 0.05,
     "activation_function": "gelu_pytorch_tanh"},
])
def test_logits_and_greedy_tokens_equal_transformers(fast_tokenizer, tmp_path, settings):
    model = random_gpt2(fast_tokenizer, tmp_path, **settings)
    baby = LittleBaby.from_gpt2(tmp_path)
    assert baby.config.r_ln_eps == settings.get("layer_norm_epsilon", 1e-5)
    assert baby.config.c_tokenizer == "bpe" and baby.tokenizer.vocab_size == len(fast_tokenizer)
    ids = fast_tokenizer.encode(TEXT[:300])[:60]
    assert list(baby.tokenizer.encode(TEXT[:300]))[:60] == ids
    ours = np.asarray(baby.logits(np.array([ids])))[0]
    np.testing.assert_allclose(ours, their_logits(model, ids), atol=1e-5, rtol=0)
    fp64 = LittleBaby.from_gpt2(tmp_path, d_type="fp64")
    np.testing.assert_allclose(np.asarray(fp64.logits(np.array([ids])))[0],
                               their_logits(model, ids, torch.float64), atol=1e-8, rtol=0)
    prompt = ids[:10]
    theirs = model.to(torch.float32).generate(
        torch.tensor([prompt]), max_new_tokens=50, do_sample=False,
        pad_token_id=fast_tokenizer.eos_token_id)[0, len(prompt):].tolist()
    greedy = list(generate_ids(baby.transformer, baby.backend, prompt,
                               *check_settings(50, 0.0, None, None, None), True))
    assert greedy == theirs


def test_the_layer_norm_epsilon_is_honoured_not_assumed(fast_tokenizer, tmp_path):
    """With GPT-2's usual 1e-5 in its place the same weights give other logits: the
    comparison above can tell the epsilons apart."""
    model = random_gpt2(fast_tokenizer, tmp_path, layer_norm_epsilon=0.05)
    ids = fast_tokenizer.encode(TEXT[:200])[:40]
    assumed = LittleBaby.from_gpt2(tmp_path, r_ln_eps=1e-5)
    assert np.abs(np.asarray(assumed.logits(np.array([ids])))[0]
                  - their_logits(model, ids)).max() > 1e-2


def test_bare_gpt2model_keys_buffers_half_weights_and_untied_head(fast_tokenizer, tmp_path):
    model = random_gpt2(fast_tokenizer, tmp_path, tie_word_embeddings=False)
    with torch.no_grad():  # an output layer of its own
        model.lm_head.weight.copy_(torch.randn_like(model.lm_head.weight) * 0.1)
    ids = fast_tokenizer.encode(TEXT[:200])[:40]
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    bare = {k[len("transformer."):] if k.startswith("transformer.") else k: v
            for k, v in state.items()}
    for i in range(model.config.n_layer):  # the causal-mask buffers old checkpoints carry
        bare[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 96, 96), np.float32))
    save_file(bare, str(tmp_path / "model.safetensors"))
    ours = np.asarray(LittleBaby.from_gpt2(tmp_path).logits(np.array([ids])))[0]
    np.testing.assert_allclose(ours, their_logits(model, ids), atol=1e-5, rtol=0)
    save_file({k: v.astype(np.float16) for k, v in bare.items()},
              str(tmp_path / "model.safetensors"))
    half = LittleBaby.from_gpt2(tmp_path)
    assert half.params["wte.weight"].dtype == np.float32
    np.testing.assert_allclose(np.asarray(half.logits(np.array([ids])))[0],
                               their_logits(model, ids), atol=0.05, rtol=0)


def test_vocab_and_merges_files_serve_as_well(fast_tokenizer, tmp_path):
    model = random_gpt2(fast_tokenizer, tmp_path)
    _vocab_and_merges(tmp_path, fast_tokenizer)
    baby = LittleBaby.from_gpt2(tmp_path)
    ids = fast_tokenizer.encode(TEXT)[:50]
    assert list(baby.tokenizer.encode(TEXT))[:50] == ids
    np.testing.assert_allclose(np.asarray(baby.logits(np.array([ids])))[0],
                               their_logits(model, ids), atol=1e-5, rtol=0)


def test_a_gpt2_finetunes_saves_and_loads_as_ours(fast_tokenizer, tmp_path):
    random_gpt2(fast_tokenizer, tmp_path / "gpt2", n_positions=32)
    baby = LittleBaby.from_gpt2(tmp_path / "gpt2", batch_size=4)
    before = {k: np.array(v) for k, v in baby.params.items()}
    baby.fit(TEXT, max_iters=3, out=tmp_path / "tuned", quiet=True)
    assert baby.report["final"]["step"] == 3 and baby.report["corpus"]["new_symbols"] == []
    assert not np.array_equal(before["wte.weight"], np.asarray(baby.params["wte.weight"]))
    again = LittleBaby.load(tmp_path / "tuned")
    assert again.tokenizer == baby.tokenizer and again.config.n_ctx == 32
    ids = np.array([fast_tokenizer.encode(TEXT)[:32]])
    np.testing.assert_array_equal(np.asarray(again.logits(ids)), np.asarray(baby.logits(ids)))


def test_gpt2_loads_tied_and_saves_and_loads_exactly(fast_tokenizer, tmp_path):
    """GPT-2's output layer is wte transposed: loaded tied (c_tie, no lm_head weights, no
    bias), saved and loaded back bit for bit, in a weights file holding wte once."""
    model = random_gpt2(fast_tokenizer, tmp_path / "gpt2")
    baby = LittleBaby.from_gpt2(tmp_path / "gpt2")
    assert baby.config.c_tie and not any(k.startswith("lm_head") for k in baby.params)
    assert baby.n_params == sum(p.numel() for p in model.parameters())  # tied: counted once
    ids = fast_tokenizer.encode(TEXT[:300])[:60]
    np.testing.assert_allclose(np.asarray(baby.logits(np.array([ids])))[0],
                               their_logits(model, ids), atol=1e-5, rtol=0)
    folder = baby.save(tmp_path / "ours")
    assert not any(k.startswith("lm_head") for k in load_file(str(folder / "model.safetensors")))
    again = LittleBaby.load(folder)
    assert again.config.c_tie and again.tokenizer == baby.tokenizer
    for key, value in baby.params.items():
        np.testing.assert_array_equal(np.asarray(again.params[key]), np.asarray(value), key)
    np.testing.assert_array_equal(np.asarray(again.logits(np.array([ids]))),
                                  np.asarray(baby.logits(np.array([ids]))))


def test_a_tied_finetune_keeps_input_and_output_one(fast_tokenizer, tmp_path):
    """Training moves wte by the sum of both uses: the logits stay x @ wte.T afterwards,
    and transformers, given the trained wte, computes the same logits."""
    model = random_gpt2(fast_tokenizer, tmp_path / "gpt2", n_positions=32)
    baby = LittleBaby.from_gpt2(tmp_path / "gpt2", batch_size=2, r_dropout=0.0)
    baby.fit(TEXT, max_iters=2, out=tmp_path / "tuned", quiet=True)
    from little_baby.io.formats.gpt2 import gpt2_weights
    weights = gpt2_weights(baby.config, {k: np.asarray(v) for k, v in baby.params.items()})
    assert np.array_equal(weights["lm_head.weight"], weights["transformer.wte.weight"])
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in weights.items()},
                          strict=False)
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    ids = fast_tokenizer.encode(TEXT)[:32]
    np.testing.assert_allclose(np.asarray(baby.logits(np.array([ids])))[0],
                               their_logits(model, ids), atol=1e-5, rtol=0)


def test_a_bpe_model_trained_here_exports_tied_and_comes_back_exactly(tmp_path):
    """Our BPE, tied embeddings: the export needs no bias fold; transformers gives its
    logits and tokens, and from_gpt2 (and load) read the folder back bit for bit."""
    from little_baby import BabyConfig
    from little_baby.bpe import BPETokenizer
    from little_baby.io.formats import gpt2
    tokenizer = BPETokenizer.train(TEXT, 400, special=["<|endoftext|>"])
    baby = LittleBaby(BabyConfig(c_tokenizer="bpe", c_tie=True, n_ctx=32, n_emb=32,
                                 head_size=32, n_heads=4, n_layers=2, r_temp=0.8,
                                 batch_size=2, r_dropout=0.0), tokenizer)
    baby.fit(TEXT, max_iters=2, out=tmp_path / "ours", quiet=True)
    folder = gpt2.save_transformers(baby, tmp_path / "gpt2")
    ids = list(tokenizer.encode(TEXT[:200]))[:32]
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    theirs_tok = transformers.AutoTokenizer.from_pretrained(folder)
    assert theirs_tok.encode(TEXT[:200])[:32] == ids
    in_memory, fast = baby.to_transformers()  # the same, without a folder
    assert fast.encode(TEXT[:200])[:32] == ids
    np.testing.assert_allclose(their_logits(in_memory, ids), their_logits(model, ids), atol=1e-6)
    np.testing.assert_allclose(their_logits(model, ids), np.asarray(baby.logits(np.array([ids])))[0],
                               atol=1e-5, rtol=0)
    for back in (LittleBaby.from_gpt2(folder), LittleBaby.load(folder)):
        assert back.config.c_tie and back.tokenizer == baby.tokenizer
        np.testing.assert_allclose(np.asarray(back.logits(np.array([ids]))),
                                   np.asarray(baby.logits(np.array([ids]))), atol=1e-6, rtol=0)
        for key, value in baby.params.items():
            if "attn.qkv" not in key:  # r_temp is folded into the query columns on the way out
                np.testing.assert_array_equal(np.asarray(back.params[key]), np.asarray(value), key)


@pytest.mark.parametrize("change, message", [
    (lambda f: (f / "model.safetensors").unlink(), "no model.safetensors"),
    (lambda f: _edit_config(f, activation_function="relu"), "activation_function='relu'"),
    (lambda f: _edit_config(f, layer_norm_epsilon="1e-6"), "layer_norm_epsilon='1e-6'"),
    (lambda f: _edit_config(f, model_type="llama"), "'llama' model, not GPT-2"),
    (lambda f: _edit_config(f, n_embd=48), "has shape"),
    (lambda f: _edit_config(f, vocab_size=500), "500 token rows"),
    (lambda f: save_file({k: v for k, v in load_file(str(f / "model.safetensors")).items()
                          if "ln_f" not in k}, str(f / "model.safetensors")), "lacks the weight 'ln_f"),
    (lambda f: (f / "tokenizer.json").unlink(), "no tokenizer.json"),
])
def test_what_cannot_load_is_refused_by_name(fast_tokenizer, tmp_path, change, message):
    random_gpt2(fast_tokenizer, tmp_path)
    change(tmp_path)
    with pytest.raises(ConversionError, match=message):
        LittleBaby.from_gpt2(tmp_path)


def _vocab_and_merges(folder, fast_tokenizer):
    """The folder's tokenizer as vocab.json + merges.txt only; returns their paths."""
    fast_tokenizer.backend_tokenizer.model.save(str(folder))
    (folder / "tokenizer.json").unlink()
    return folder / "vocab.json", folder / "merges.txt"


def test_a_merges_file_with_windows_line_ends_reads_as_open_reads_it(fast_tokenizer, tmp_path):
    random_gpt2(fast_tokenizer, tmp_path)
    vocab, merges = _vocab_and_merges(tmp_path, fast_tokenizer)
    plain = LittleBaby.from_gpt2(tmp_path).tokenizer
    merges.write_bytes(merges.read_bytes().replace(b"\n", b"\r\n"))
    assert LittleBaby.from_gpt2(tmp_path).tokenizer == plain


def _huge(path):
    with open(path, "wb") as f:
        f.truncate(1 << 40)  # sparse: a terabyte that takes no disk


@pytest.mark.parametrize("spoil, message", [
    (lambda vocab, merges: _huge(merges), "more than a GPT-2 tokenizer file may be"),
    (lambda vocab, merges: merges.write_bytes(b"\xff\xfe a b\n"), "merges.txt is not UTF-8"),
    (lambda vocab, merges: vocab.write_text("[" * 100000 + "]" * 100000), "nested too deeply"),
    (lambda vocab, merges: _huge(vocab), "more than a GPT-2 JSON file may be"),
])
def test_spoiled_vocab_and_merges_files_are_one_line(fast_tokenizer, tmp_path, spoil, message):
    """Read with bounds, as tokenizer.json is: nothing read whole, no traceback."""
    random_gpt2(fast_tokenizer, tmp_path)
    spoil(*_vocab_and_merges(tmp_path, fast_tokenizer))
    with pytest.raises(ConversionError, match=message):
        LittleBaby.from_gpt2(tmp_path)


def _edit_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


@pytest.mark.skipif(not os.environ.get("LITTLE_BABY_SLOW_TESTS"), reason=(
    "GPT-2 small's shape takes a minute and 2 GB: set LITTLE_BABY_SLOW_TESTS=1 to run it"))
def test_gpt2_small_shape_equals_transformers(tmp_path):
    """The 124M shape (12 layers, 768 wide, 1,024 positions, 50,257 tokens: 256 bytes,
    50,000 merges of two bytes each, <|endoftext|>), at random."""
    from little_baby.bpe import BYTE_TO_CHAR, BPETokenizer
    chars = [BYTE_TO_CHAR[b] for b in range(256)]
    vocab, merges = {c: i for i, c in enumerate(chars)}, []
    for a, b in ((a, b) for a in chars for b in chars):
        if len(vocab) == 50256:
            break
        merges.append((a, b))
        vocab[a + b] = len(vocab)
    tok = BPETokenizer(vocab, merges, {"<|endoftext|>": 50256})
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
    model.save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text(tok.to_json(), encoding="utf-8")
    baby = LittleBaby.from_gpt2(tmp_path)
    assert baby.config.n_layers == 12 and baby.config.n_ctx == 1024 and baby.tokenizer == tok
    ids = list(tok.encode("Hello world, this is GPT-2 small in NumPy. " * 3))[:64]
    np.testing.assert_allclose(np.asarray(baby.logits(np.array([ids])))[0],
                               their_logits(model, ids), atol=1e-5, rtol=0)
    theirs = model.generate(torch.tensor([ids[:8]]), max_new_tokens=50, do_sample=False,
                            pad_token_id=50256)[0, 8:].tolist()
    assert list(generate_ids(baby.transformer, baby.backend, ids[:8],
                             *check_settings(50, 0.0, None, None, None), True)) == theirs
