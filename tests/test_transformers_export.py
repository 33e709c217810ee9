"""Export to transformers' GPT-2 and import back (little_baby/io/formats/gpt2.py), exactly.

- Exporting needs numpy and safetensors only: with torch, transformers and tokenizers
  unimportable the folder is written whole (the command too), its tensors are the mapped
  weights, its config the settings that compute our maths, its tokenizer.json what the
  `tokenizers` library itself writes for the same tokenizer.
- A briefly trained model of ours (pre-norm mha + mlp, a character vocabulary, r_temp and
  n_hidden off their defaults, a non-zero lm_head bias) exported to a folder: transformers
  loads it (AutoModelForCausalLM, AutoTokenizer), its float32 logits equal ours to 1e-5,
  greedy generate and pipeline("text-generation") give our text; `little-baby export`
  writes the same folder; it comes back with the same logits.
- A randomly initialised GPT2LMHeadModel built here (no download), with tied or untied
  embeddings and GPT-2's other attention scalings, imports with the same logits and
  trains here (its loss falls).
- The tokenizer round trip (encode and decode equal ours) on Shakespeare and Sophocles,
  character- and word-level; Python's word classes where Oniguruma's differ.
- Refusals, each naming what the other side cannot express: post-norm, other variants,
  head_size != n_emb, a bias that does not fold, GPT-2 settings ours lacks, vocabularies
  ours cannot represent; a missing library named with what installs it.
- The age-48-months model, when its folder is in the repository's shipped/.

A test that needs torch, transformers or tokenizers skips where they are not installed,
and its reason names what installs them (the `transformers` extra; torch's CPU build).
"""
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from little_baby import BabyConfig, CharTokenizer, LittleBaby, WordTokenizer
from little_baby.cli import main
from little_baby.errors import ConversionError
from little_baby.io.formats import gpt2
from little_baby.io.store.ages import AGES
from little_baby.training.datasets import how_to_get
from little_baby.io.store.model_folder import WEIGHTS, is_model_folder
from little_baby.training.data import find_input, random_batch
from little_baby.training.trainer import Trainer
from tests.little_texts import GREEK, english

LIBRARIES = ("torch", "transformers", "tokenizers")
HAVE = {n: importlib.util.find_spec(n) is not None for n in LIBRARIES}
torch, transformers, tokenizers = (importlib.import_module(n) if HAVE[n] else None
                                   for n in LIBRARIES)


def needs(*names):
    """Skip unless `names` are installed; the reason says what installs them."""
    missing = [n for n in names if not HAVE[n]]
    how = "; ".join(f"{', '.join(ns)}: {how}" for how, ns in gpt2._group(missing).items())
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}, not "
                                                    f"installed here. {how}")


NEEDS_ALL = needs(*LIBRARIES)                        # running a model: torch too
NEEDS_TOKENIZER = needs("transformers", "tokenizers")  # the tokenizer side only

if HAVE["torch"]:
    torch.set_num_threads(1)
if HAVE["transformers"]:
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

ROOT = Path(__file__).resolve().parent.parent
TEXT = english() + GREEK                       # 66 characters: spaces, newlines, Greek
TOL = 1e-5


def hf_logits(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(x))).logits.numpy()


def hf_greedy(model, tokenizer, prompt, n):
    ids = torch.tensor([tokenizer.encode(prompt)])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                             do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:])


def in_float64(baby):
    """The same model computing in float64."""
    return LittleBaby(baby.config.replace(d_type="fp64"), baby.tokenizer, params=baby.params)


def windows(baby, n=3, seed=0):
    return random_batch(baby.tokenizer.encode(TEXT), n, baby.config.n_ctx,
                        np.random.default_rng(seed))[0]


def train(baby, steps, seed=0, batch=8):
    ids, rng, trainer = baby.tokenizer.encode(TEXT), np.random.default_rng(seed), Trainer(baby, steps)
    for _ in range(steps):
        trainer.step(*random_batch(ids, batch, baby.config.n_ctx, rng))
    return baby


@pytest.fixture(scope="module")
def trained():
    """A pre-norm mha + mlp char model, a few steps trained: r_temp 0.8, n_hidden 3."""
    cfg = BabyConfig(n_ctx=32, n_emb=96, head_size=96, n_heads=4, n_layers=2, n_hidden=3,
                     r_temp=0.8, r_dropout=0.0, r_learn=3e-3)
    baby = train(LittleBaby(cfg, CharTokenizer.from_text(TEXT)), 30)
    assert np.abs(baby.params["lm_head.bias"]).max() > 1e-3  # a bias that must be folded
    return baby


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    return gpt2.save_transformers(trained, tmp_path_factory.mktemp("export") / "gpt2")


# ---- exporting needs no torch, transformers or tokenizers ------------------------------------
def test_exporting_needs_no_torch_transformers_or_tokenizers(trained, tmp_path, monkeypatch,
                                                             capsys):
    for name in LIBRARIES:
        monkeypatch.setitem(sys.modules, name, None)       # `import torch` fails, and so on
    folder = gpt2.save_transformers(trained, tmp_path / "gpt2")
    assert sorted(p.name for p in folder.iterdir()) == sorted(gpt2.FILES)
    cfg, params = trained.config, trained.params
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert [config[k] for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                                "n_inner", "tie_word_embeddings")] == [
        trained.tokenizer.vocab_size, 32, 96, 2, 4, 288, False]
    generation = json.loads((folder / "generation_config.json").read_text(encoding="utf-8"))
    assert generation["max_length"] == 32 and generation["bos_token_id"] == \
        trained.tokenizer.ids["\n"]
    tensors = load_file(folder / "model.safetensors")
    assert set(tensors) == {theirs for _, theirs in gpt2.key_pairs(2)} | {"lm_head.weight"}
    assert all(t.dtype == np.float32 for t in tensors.values())
    assert np.array_equal(tensors["transformer.wte.weight"], params["wte.weight"])
    assert np.array_equal(tensors["transformer.h.1.mlp.c_fc.weight"],
                          params["blocks.1.net.up.weight"])
    assert np.array_equal(tensors["lm_head.weight"], params["lm_head.weight"].T)
    queries = tensors["transformer.h.0.attn.c_attn.weight"][:, :96]
    assert np.allclose(queries, params["blocks.0.attn.qkv.weight"][:, :96] / 0.8, rtol=1e-6)
    # GPT-2's head has no bias: ours went into ln_f's, so (y + c) W == y W + b
    c = tensors["transformer.ln_f.bias"].astype(np.float64) - params["ln_f.bias"]
    assert np.abs(c @ params["lm_head.weight"] - params["lm_head.bias"]).max() < 1e-5
    assert np.abs(params["lm_head.bias"]).max() > 1e-3
    # the command writes the same bytes, with the libraries still missing
    trained.save(tmp_path / "ours")
    assert main(["export", str(tmp_path / "ours"), "--format", "transformers",
                 "--out", str(tmp_path / "by-command")]) == 0, capsys.readouterr().err
    for name in gpt2.FILES:
        assert (tmp_path / "by-command" / name).read_bytes() == (folder / name).read_bytes()


@needs("tokenizers")
@pytest.mark.parametrize("tokenizer", [CharTokenizer, WordTokenizer], ids=["char", "word"])
def test_our_tokenizer_json_is_what_tokenizers_writes_and_encodes_as_ours(tokenizer):
    ours = tokenizer.from_text(TEXT)
    written = gpt2.tokenizer_json(ours)
    theirs = tokenizers.Tokenizer.from_str(json.dumps(written))
    assert json.loads(theirs.to_str()) == written   # every field read as we wrote it
    assert theirs.encode(TEXT).ids == ours.encode(TEXT).tolist()
    assert theirs.decode(theirs.encode(TEXT).ids) == TEXT


@needs("transformers")
def test_transformers_reads_the_exported_config_as_written(exported):
    written = json.loads((exported / "config.json").read_text(encoding="utf-8"))
    config = transformers.AutoConfig.from_pretrained(exported)
    assert isinstance(config, transformers.GPT2Config)
    assert {k: getattr(config, k) for k in written if k != "dtype"} == \
        {k: v for k, v in written.items() if k != "dtype"}
    generation = transformers.GenerationConfig.from_pretrained(exported)
    assert generation.max_length == 32


# ---- ours -> transformers -------------------------------------------------------------------
@NEEDS_ALL
def test_the_exported_folder_loads_in_transformers_with_our_logits(trained, exported):
    model = transformers.AutoModelForCausalLM.from_pretrained(exported)
    assert isinstance(model, transformers.GPT2LMHeadModel) and not model.training
    c = model.config
    assert (c.n_positions, c.n_embd, c.n_layer, c.n_head, c.n_inner) == (32, 96, 2, 4, 288)
    assert c.tie_word_embeddings is False and model.lm_head.bias is None
    assert c.activation_function == "gelu_new" and c.layer_norm_epsilon == 1e-5
    x = windows(trained)
    ours = trained.logits(x)
    assert np.abs(hf_logits(model, x) - ours).max() < TOL
    in_memory, _ = trained.to_transformers()
    assert np.abs(hf_logits(in_memory, x) - ours).max() < TOL
    assert np.abs(hf_logits(model.double(), x) - in_float64(trained).logits(x)).max() < 1e-7
    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)  # nothing to unpickle


@NEEDS_ALL
def test_greedy_generation_and_the_pipeline_give_our_text(trained, exported):
    model = transformers.AutoModelForCausalLM.from_pretrained(exported)
    tokenizer = transformers.AutoTokenizer.from_pretrained(exported)
    for prompt in ("The baby sat", "Ισμήνη, αδελφούλα"):
        n = trained.config.n_ctx - len(prompt)        # GPT-2 has no positions past n_ctx
        ours = trained.generate(prompt, max_new_tokens=n, temperature=0)
        assert len(ours) == n
        assert hf_greedy(model, tokenizer, prompt, n) == ours
    pipe = transformers.pipeline("text-generation", model=str(exported))
    out = pipe("The baby sat", max_new_tokens=12, do_sample=False)[0]["generated_text"]
    assert out == "The baby sat" + trained.generate("The baby sat", max_new_tokens=12,
                                                    temperature=0)


@NEEDS_ALL
def test_the_export_command_writes_a_folder_transformers_loads(trained, tmp_path, capsys):
    folder, out = tmp_path / "ours", tmp_path / "gpt2"
    trained.save(folder)
    assert main(["export", str(folder), "--format", "transformers", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    x = windows(trained, seed=1)
    assert np.abs(hf_logits(model, x) - trained.logits(x)).max() < TOL
    # again over the earlier export: replaced whole; into one of our model folders: refused
    assert main(["export", str(folder), "--out", str(out)]) == 0
    assert main(["export", str(folder), "--out", str(folder)]) == 2
    assert "one of our model folders" in capsys.readouterr().err
    assert LittleBaby.load(folder).config == trained.config        # untouched


@NEEDS_ALL
def test_an_export_comes_back_with_the_same_logits_and_vocabulary(trained, exported):
    back = LittleBaby.from_transformers(exported)                  # tokenizer read there
    assert back.tokenizer == trained.tokenizer
    arch = ("c_sequence", "c_attention", "c_network", "n_ctx", "n_emb", "head_size",
            "n_heads", "n_layers", "n_hidden")
    assert all(getattr(back.config, k) == getattr(trained.config, k) for k in arch)
    assert back.config.r_temp == 1.0     # folded into the query weights on the way out
    x = windows(trained, seed=2)
    assert np.abs(back.logits(x) - trained.logits(x)).max() < TOL
    assert back.generate("The", max_new_tokens=20, temperature=0) == trained.generate(
        "The", max_new_tokens=20, temperature=0)


@NEEDS_ALL
def test_a_tied_word_model_exports_without_a_fold_and_comes_back_exactly(tmp_path):
    """c_tie: GPT-2's own head (tie_word_embeddings, wte alone in the file), so a word
    vocabulary larger than n_emb, whose bias could not fold, exports exactly and comes
    back tied with the same weights."""
    cfg = BabyConfig(n_ctx=16, n_emb=16, head_size=16, n_heads=2, n_layers=2, r_dropout=0.0,
                     c_tokenizer="word", c_tie=True, r_learn=3e-3, r_ln_eps=0.03)
    baby = train(LittleBaby(cfg, WordTokenizer.from_text(TEXT)), 5)
    assert baby.tokenizer.vocab_size > cfg.n_emb
    folder = gpt2.save_transformers(baby, tmp_path / "gpt2")
    written = json.loads((folder / "config.json").read_text())
    assert written["tie_word_embeddings"] is True and written["layer_norm_epsilon"] == 0.03
    assert "lm_head.weight" not in load_file(str(folder / WEIGHTS))
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    x = windows(baby)
    assert np.abs(hf_logits(model, x) - baby.logits(x)).max() < TOL
    back = LittleBaby.from_transformers(folder)
    assert back.config.c_tie and back.config.r_ln_eps == 0.03 and back.tokenizer == baby.tokenizer
    for key, value in baby.params.items():
        np.testing.assert_array_equal(back.params[key], value, key)


# ---- transformers -> ours -------------------------------------------------------------------
def random_gpt2(vocab_size, seed, **settings):
    """A GPT2LMHeadModel with random weights, biases and LayerNorm gains (no download)."""
    torch.manual_seed(seed)
    config = transformers.GPT2Config(vocab_size=vocab_size, n_positions=24, n_embd=32,
                                     n_layer=2, n_head=4, bos_token_id=None, eos_token_id=None,
                                     **settings)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


@pytest.mark.parametrize("settings", [
    {},                                                    # tied embeddings, GPT-2's defaults
    {"tie_word_embeddings": False, "n_inner": 96, "scale_attn_weights": False,
     "scale_attn_by_inverse_layer_idx": True, "reorder_and_upcast_attn": True,
     "attn_implementation": "eager", "activation_function": "gelu_pytorch_tanh",
     "layer_norm_epsilon": 1e-3},
], ids=["defaults", "untied-rescaled"])
@NEEDS_ALL
def test_a_random_gpt2_imports_with_its_logits_then_trains_here(settings, tmp_path):
    tokenizer = gpt2.fast_tokenizer(CharTokenizer.from_text(TEXT), 24)
    model = random_gpt2(len(tokenizer), 3, **settings)
    baby = LittleBaby.from_transformers(model, tokenizer)
    p = baby.params
    tied = model.config.tie_word_embeddings
    assert baby.config.c_tie == tied  # tied: wte is the output layer, held once
    assert ("lm_head.weight" in p) != tied
    if not tied:
        assert np.all(p["lm_head.bias"] == 0)
        assert not np.array_equal(p["lm_head.weight"], p["wte.weight"].T)
    x = windows(baby)
    assert np.abs(baby.logits(x) - hf_logits(model, x)).max() < TOL
    ids = baby.tokenizer.encode(TEXT)
    fixed = random_batch(ids, 16, baby.config.n_ctx, np.random.default_rng(9))
    before = baby.loss(*fixed)
    baby.config = baby.config.replace(r_learn=3e-3, r_dropout=0.0)
    after = train(baby, 40, seed=1).loss(*fixed)
    assert after < before - 0.5, f"loss went from {before:.3f} to {after:.3f}"
    # an import, not a model trained here from scratch: fitting it finetunes it
    assert baby.guid is not None and baby.report["origin"] == {"kind": "gpt2"}
    parent = baby.guid
    baby.fit(TEXT * 4, max_iters=1, eval_interval=1, out=tmp_path / "tuned", quiet=True)
    assert baby.parent_guid == parent and baby.report["origin"]["kind"] == "finetuned"


@NEEDS_ALL
def test_a_character_tokenizer_built_otherwise_is_read_by_what_it_does():
    """A WordLevel tokenizer that isolates every character (not what we write) is a
    character vocabulary too: its behaviour, not its make, decides."""
    symbols = sorted(set(TEXT))
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(
        {s: i for i, s in enumerate(symbols)}, unk_token=None))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Split(
        tokenizers.Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = tokenizers.decoders.Fuse()
    model = random_gpt2(len(symbols), 4)
    for tokenizer in (backend, transformers.PreTrainedTokenizerFast(tokenizer_object=backend)):
        baby = LittleBaby.from_transformers(model, tokenizer)
        assert baby.tokenizer == CharTokenizer(symbols)


# ---- the tokenizer --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_texts():
    paths = {n: find_input(f"{n}.txt") for n in ("shakespeare", "sophocles")}
    missing = [n for n, p in paths.items() if p is None]
    if missing:  # conftest makes this an error under CI
        pytest.skip(" ".join(f"{n}.txt not found: {how_to_get(n)}" for n in missing))
    return {n: p.read_text(encoding="utf-8") for n, p in paths.items()}


@pytest.mark.parametrize("name", ["shakespeare", "sophocles"])
@NEEDS_TOKENIZER
def test_the_exported_tokenizer_round_trips_shakespeare_and_sophocles(real_texts, name, tmp_path):
    text = real_texts[name]
    ours = CharTokenizer.from_text(text)
    baby = LittleBaby(BabyConfig(n_ctx=16, n_emb=16, head_size=16, n_heads=2, n_layers=1), ours)
    folder = gpt2.save_transformers(baby, tmp_path / "gpt2")  # fresh: lm_head.bias is 0
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert json.loads((folder / "tokenizer_config.json").read_text())["tokenizer_class"] == \
        "PreTrainedTokenizerFast"
    ids = tokenizer.encode(text)
    assert ids == ours.encode(text).tolist()
    assert tokenizer.decode(ids) == text


@NEEDS_TOKENIZER
def test_a_word_vocabulary_round_trips_sophocles(real_texts):
    text = real_texts["sophocles"]
    ours = WordTokenizer.from_text(text)
    tokenizer = gpt2.fast_tokenizer(ours, 64)
    ids = tokenizer.encode(text)
    assert ids == ours.encode(text).tolist() and tokenizer.decode(ids) == text
    assert gpt2.vocabulary(tokenizer, len(ours)) == ours      # and it imports back


@NEEDS_TOKENIZER
def test_words_split_as_pythons_re_splits_them():
    """Combining marks, superscript digits, '_' and odd spaces: Oniguruma's \\w and \\s
    differ from Python's on these; the exported pattern spells out Python's classes."""
    text = ("cafe\u0301 x\u00b2+y\u00b2 snake_case \u2003\u00a0tab\tend\u001c\u0300 "
            "\u0915\u093f \u00bd ok.\n") * 3
    ours = WordTokenizer.from_text(text)
    tokenizer = gpt2.fast_tokenizer(ours, 64)
    assert tokenizer.encode(text) == ours.encode(text).tolist()
    assert tokenizer.decode(tokenizer.encode(text)) == text


@NEEDS_TOKENIZER
def test_a_character_the_vocabulary_lacks_is_dropped_as_unknown_drop_does():
    ours = CharTokenizer.from_text("abc \n")
    tokenizer = gpt2.fast_tokenizer(ours, 16)
    assert tokenizer.encode("ab zc\n") == ours.encode("ab zc\n", unknown="drop").tolist()


# ---- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, named", [
    ({"c_sequence": "post"}, "post-norm"),
    ({"c_attention": "gqa", "n_kv_heads": 1}, "c_attention='gqa'"),
    ({"c_attention": "gla"}, "c_attention='gla'"),
    ({"c_network": "swi"}, "c_network='swi'"),
    ({"head_size": 8}, "head_size=8 with n_emb=16"),
])
def test_what_gpt2_cannot_express_is_refused_by_name(settings, named, tmp_path, capsys):
    cfg = BabyConfig(**{**dict(n_ctx=8, n_emb=16, head_size=16, n_heads=2, n_layers=1), **settings})
    baby = LittleBaby(cfg, CharTokenizer.from_text(TEXT))
    with pytest.raises(ConversionError, match=named.replace("(", r"\(")):
        baby.to_transformers()
    baby.save(tmp_path / "ours")
    assert main(["export", str(tmp_path / "ours"), "--out", str(tmp_path / "gpt2")]) == 2
    assert named in capsys.readouterr().err and not (tmp_path / "gpt2").exists()


def test_a_bias_that_does_not_fold_is_refused_with_its_measured_error():
    cfg = BabyConfig(n_ctx=16, n_emb=32, head_size=32, n_heads=2, n_layers=1, r_dropout=0.0,
                     r_learn=3e-3)
    baby = train(LittleBaby(cfg, CharTokenizer.from_text(TEXT)), 10)   # 66 tokens > n_emb 32
    with pytest.raises(ConversionError, match=r"logit error of \d.*66 tokens is larger than "
                                              r"n_emb = 32"):
        baby.to_transformers()


@pytest.mark.parametrize("settings, named", [
    ({"activation_function": "relu"}, "activation_function='relu'"),
    ({"layer_norm_epsilon": 0.0}, "layer_norm_epsilon=0.0"),
    ({"add_cross_attention": True}, "add_cross_attention=True"),
    ({"n_inner": 40}, "n_inner=40"),
])
@NEEDS_ALL
def test_gpt2_settings_ours_lacks_are_refused_by_name(settings, named):
    tokenizer = gpt2.fast_tokenizer(CharTokenizer.from_text(TEXT), 24)
    model = random_gpt2(len(tokenizer), 5, **settings)
    with pytest.raises(ConversionError, match=named):
        LittleBaby.from_transformers(model, tokenizer)


@NEEDS_ALL
def test_vocabularies_ours_cannot_represent_are_refused():
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(
        vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    with pytest.raises(ConversionError, match="not single characters.*'ab'"):
        LittleBaby.from_transformers(random_gpt2(3, 6), bpe)
    lower = tokenizers.Tokenizer(tokenizers.models.BPE(vocab={"A": 0, "a": 1}, merges=[]))
    lower.normalizer = tokenizers.normalizers.Lowercase()
    with pytest.raises(ConversionError, match="does not encode its own vocabulary"):
        LittleBaby.from_transformers(random_gpt2(2, 6), lower)
    with pytest.raises(ConversionError, match="3 token rows but the tokenizer 2 tokens"):
        LittleBaby.from_transformers(random_gpt2(3, 6), lower)
    with pytest.raises(ConversionError, match="pass the model's tokenizer"):
        LittleBaby.from_transformers(random_gpt2(3, 6))
    with pytest.raises(ConversionError, match="GPT2Model is not a GPT2LMHeadModel"):
        LittleBaby.from_transformers(random_gpt2(3, 6).transformer, bpe)


@NEEDS_ALL
def test_folders_that_are_no_gpt2_are_refused(tmp_path):
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ConversionError, match="'llama' model; only GPT-2"):
        LittleBaby.from_transformers(tmp_path / "llama")
    with pytest.raises(ConversionError, match="not a transformers model folder"):
        LittleBaby.from_transformers(tmp_path)
    random_gpt2(5, 7).config.save_pretrained(tmp_path / "no-weights")
    with pytest.raises(ConversionError, match="only model.safetensors is read"):
        LittleBaby.from_transformers(tmp_path / "no-weights", CharTokenizer(list("abcde")))


def test_without_the_extra_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)   # import transformers fails
    baby = LittleBaby(BabyConfig(n_ctx=8, n_emb=16, head_size=16, n_heads=2, n_layers=1),
                      CharTokenizer.from_text("ab"))
    with pytest.raises(ConversionError, match=r"little-baby\[transformers\]"):
        baby.to_transformers()


# ---- the age model --------------------------------------------------------------------------
@NEEDS_ALL
def test_the_age_48_months_model_exports_exactly(tmp_path):
    age = AGES["age-48-months"]
    folder = ROOT / "shipped" / age.guid
    if not (is_model_folder(folder) and (folder / WEIGHTS).is_file()):
        pytest.skip(f"shipped/{age.guid}/ (age-48-months) is not in this checkout: it ships "
                    f"once tools/train_ages.py has trained it")
    baby = LittleBaby.load(folder)
    out = gpt2.save_transformers(baby, tmp_path / "gpt2")
    model = transformers.AutoModelForCausalLM.from_pretrained(out)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    x = np.random.default_rng(0).integers(0, baby.tokenizer.vocab_size, (2, baby.config.n_ctx))
    # 16 layers: in float32 each side is itself ~1e-5 from the float64 logits (measured:
    # ours 8e-6, transformers' 1.0e-5), so the two agree to twice that; in float64 the
    # conversion shows itself exact (1e-8: the float32 rounding of the folded bias)
    assert np.abs(hf_logits(model, x) - baby.logits(x)).max() < 2 * TOL
    assert np.abs(hf_logits(model.double(), x) - in_float64(baby).logits(x)).max() < 1e-6
    model.float()
    prompt = "".join(baby.tokenizer.symbols[i] for i in x[0, :8])
    ours = baby.generate(prompt, max_new_tokens=40, temperature=0)
    assert hf_greedy(model, tokenizer, prompt, 40) == ours


def test_an_export_folder_is_not_read_as_one_of_ours(tmp_path):
    """A transformers folder has config.json and tokenizer.json too: load reads a GPT-2
    with a byte-level BPE (from_gpt2); one with a char vocabulary is refused, saying what
    loads it, instead of listing unknown config keys."""
    baby = LittleBaby(BabyConfig(n_ctx=8, n_emb=16, head_size=16, n_heads=2, n_layers=1),
                      CharTokenizer.from_text(TEXT))
    folder = gpt2.save_transformers(baby, tmp_path / "export")
    with pytest.raises(ConversionError, match=r"LittleBaby.from_transformers\("):
        LittleBaby.load(folder)
