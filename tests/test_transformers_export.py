"""Export to transformers' GPT-2 and import back (little_baby/io/gpt2.py), exactly.

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
  ours cannot represent.
- The age-48-months model, when its folder is in the repository's cache/.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby, WordTokenizer
from little_baby.cli import main
from little_baby.errors import ConversionError
from little_baby.io import gpt2
from little_baby.io.ages import AGES
from little_baby.io.store import WEIGHTS, is_model_folder
from little_baby.training.data import find_input, random_batch
from little_baby.training.trainer import Trainer
from tests.little_texts import GREEK, english

try:
    import tokenizers
    import torch
    import transformers
except ImportError as e:  # CI installs the extra: there a missing library is a failure
    if os.environ.get("CI"):
        raise
    pytest.skip(f"{e.name} is not installed; these tests need the transformers extra: "
                f"pip install -e \".[transformers]\"", allow_module_level=True)

torch.set_num_threads(1)
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


# ---- ours -> transformers -------------------------------------------------------------------
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
     "attn_implementation": "eager", "activation_function": "gelu_pytorch_tanh"},
], ids=["defaults", "untied-rescaled"])
def test_a_random_gpt2_imports_with_its_logits_then_trains_here(settings):
    tokenizer = gpt2.fast_tokenizer(CharTokenizer.from_text(TEXT), 24)
    model = random_gpt2(len(tokenizer), 3, **settings)
    baby = LittleBaby.from_transformers(model, tokenizer)
    p = baby.params
    assert np.all(p["lm_head.bias"] == 0)
    tied = model.config.tie_word_embeddings
    assert np.array_equal(p["lm_head.weight"], p["wte.weight"].T) == tied
    x = windows(baby)
    assert np.abs(baby.logits(x) - hf_logits(model, x)).max() < TOL
    ids = baby.tokenizer.encode(TEXT)
    fixed = random_batch(ids, 16, baby.config.n_ctx, np.random.default_rng(9))
    before = baby.loss(*fixed)
    baby.config = baby.config.replace(r_learn=3e-3, r_dropout=0.0)
    after = train(baby, 40, seed=1).loss(*fixed)
    assert after < before - 0.5, f"loss went from {before:.3f} to {after:.3f}"


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
        pytest.skip(f"{', '.join(missing)}.txt not found (../shared/inputs, ./inputs or "
                    f"$LITTLE_BABY_INPUTS): python -m little_baby.tools.datasets {missing[0]}")
    return {n: p.read_text(encoding="utf-8") for n, p in paths.items()}


@pytest.mark.parametrize("name", ["shakespeare", "sophocles"])
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


def test_a_word_vocabulary_round_trips_sophocles(real_texts):
    text = real_texts["sophocles"]
    ours = WordTokenizer.from_text(text)
    tokenizer = gpt2.fast_tokenizer(ours, 64)
    ids = tokenizer.encode(text)
    assert ids == ours.encode(text).tolist() and tokenizer.decode(ids) == text
    assert gpt2.vocabulary(tokenizer, len(ours)) == ours      # and it imports back


def test_words_split_as_pythons_re_splits_them():
    """Combining marks, superscript digits, '_' and odd spaces: Oniguruma's \\w and \\s
    differ from Python's on these; the exported pattern spells out Python's classes."""
    text = ("cafe\u0301 x\u00b2+y\u00b2 snake_case \u2003\u00a0tab\tend\u001c\u0300 "
            "\u0915\u093f \u00bd ok.\n") * 3
    ours = WordTokenizer.from_text(text)
    tokenizer = gpt2.fast_tokenizer(ours, 64)
    assert tokenizer.encode(text) == ours.encode(text).tolist()
    assert tokenizer.decode(tokenizer.encode(text)) == text


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
    ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon=1e-06"),
    ({"add_cross_attention": True}, "add_cross_attention=True"),
    ({"n_inner": 40}, "n_inner=40"),
])
def test_gpt2_settings_ours_lacks_are_refused_by_name(settings, named):
    tokenizer = gpt2.fast_tokenizer(CharTokenizer.from_text(TEXT), 24)
    model = random_gpt2(len(tokenizer), 5, **settings)
    with pytest.raises(ConversionError, match=named):
        LittleBaby.from_transformers(model, tokenizer)


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
def test_the_age_48_months_model_exports_exactly(tmp_path):
    age = AGES["age-48-months"]
    folder = ROOT / "cache" / age.guid
    if not (is_model_folder(folder) and (folder / WEIGHTS).is_file()):
        pytest.skip(f"cache/{age.guid}/ (age-48-months) is not in this checkout: it ships "
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
    """A transformers folder has config.json and tokenizer.json too: loading it as ours
    says what loads it instead of listing unknown config keys."""
    from little_baby.errors import ModelFolderError
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_embd": 32}')
    (folder / "tokenizer.json").write_text('{"type": "char", "symbols": ["a"]}')
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelFolderError, match="from_transformers"):
        LittleBaby.load(folder)
