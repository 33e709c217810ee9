"""Settings, tokenizers and the backend switch: round trips and clear errors."""
import json

import numpy as np
import pytest

from little_baby import (BabyConfig, Backend, BackendError, CharTokenizer, ConfigError,
                         TokenizerError, WordTokenizer)
from little_baby.tokenizer import load_tokenizer


def test_config_json_round_trip_and_aliases(tmp_path):
    cfg = BabyConfig(n_layers=2, c_sequence="post")
    (tmp_path / "c.json").write_text(cfg.to_json())
    assert BabyConfig.from_json(tmp_path / "c.json") == cfg
    old = BabyConfig.from_dict({"dropout": 0.2, "lr": 0.01, "num_epochs": 3, "s_batch": 8})
    assert (old.r_dropout, old.r_learn, old.n_epochs, old.batch_size) == (0.2, 0.01, 3, 8)


@pytest.mark.parametrize("settings, message", [
    ({"n_heads": 3}, "divisible by n_heads"),
    ({"n_ctx": 0}, "n_ctx must be a whole number"),
    ({"c_sequence": "middle"}, "c_sequence must be 'pre' or 'post'"),
    ({"c_attention": "nope"}, "c_attention 'nope' is unknown"),
    ({"r_dropout": 1.0}, "r_dropout"),
    ({"s_warmup": "sometimes"}, "s_warmup"),
    ({"n_layer": 4}, "unknown config key"),
])
def test_impossible_settings_are_explained(settings, message):
    with pytest.raises(ConfigError, match=message):
        BabyConfig.from_dict(settings)


def test_warmup_strategies():
    assert BabyConfig(s_warmup="none").warmup_steps(1000) == 0
    assert BabyConfig(s_warmup="auto").warmup_steps(1000) == 50
    assert BabyConfig(s_warmup=0.1).warmup_steps(1000) == 100


def test_char_tokenizer_sorted_round_trip_and_json(tmp_path):
    tok = CharTokenizer.from_text("hello world")
    assert tok.symbols == sorted(set("hello world"))
    assert tok.decode(tok.encode("low")) == "low"
    (tmp_path / "t.json").write_text(tok.to_json(), encoding="utf-8")
    assert load_tokenizer(tmp_path / "t.json") == tok


def test_unknown_symbols_are_named_or_dropped():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(TokenizerError, match="'x'.*'z'"):
        tok.encode("axbz")
    assert tok.decode(tok.encode("axbz", unknown="drop")) == "ab"


def test_expand_keeps_every_existing_id():
    tok = CharTokenizer.from_text("abc")
    before = {s: tok.ids[s] for s in tok.symbols}
    assert tok.expand("cabαβ") == ["α", "β"]
    assert all(tok.ids[s] == i for s, i in before.items())
    assert tok.ids["α"] == 3 and tok.vocab_size == 5


def test_word_tokenizer_keeps_spaces_and_punctuation():
    text = "To be, or not to be:\n  that is"
    tok = WordTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert "be" in tok.ids and "," in tok.ids and "\n  " in tok.ids


def test_config_and_tokenizer_must_agree_on_the_kind():
    from little_baby import LittleBaby
    words = WordTokenizer.from_text("to be or not to be")
    with pytest.raises(ConfigError, match="set c_tokenizer='word'"):
        LittleBaby(BabyConfig(n_layers=1), words)
    assert LittleBaby(BabyConfig(n_layers=1, c_tokenizer="word"), words).tokenizer.kind == "word"


def test_bad_tokenizer_file(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps({"chars": "abc"}))
    with pytest.raises(TokenizerError, match="not a tokenizer file"):
        load_tokenizer(tmp_path / "t.json")


def test_backend_errors_say_what_to_do():
    with pytest.raises(BackendError, match="cpu' or 'gpu"):
        Backend("tpu")
    try:
        import cupy  # noqa: F401
        has_cupy = True
    except ImportError:
        has_cupy = False
    if not has_cupy:
        with pytest.raises(BackendError, match="pip install cupy-cuda12x"):
            Backend("gpu")


def test_a_cupy_that_imports_but_does_not_run_is_refused_with_why(monkeypatch):
    """engine/cupy_check.py is the one answer: no device, or a wrong product (a kernel
    that cannot run), makes c_device='gpu' a BackendError and gpu_usable() False."""
    from little_baby.engine.backend import gpu_usable
    from tests import cupy_standin
    with cupy_standin.installed() as cp:
        assert gpu_usable() and Backend("gpu").xp is cp
        monkeypatch.setattr(cp, "asnumpy", lambda a: np.zeros((3, 3)))
        with pytest.raises(BackendError, match="small matrix product came out wrong"):
            Backend("gpu")
        assert not gpu_usable()
        monkeypatch.setattr(cp.cuda.runtime, "getDeviceCount", lambda: 0)
        with pytest.raises(BackendError, match="CuPy sees no GPU.*pip install cupy-cuda12x"):
            Backend("gpu")


def test_backend_dtypes():
    assert Backend("cpu", "fp64").dtype == np.float64
    assert Backend("cpu").asarray([1, 2]).dtype == np.float32


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        BabyConfig.from_json(tmp_path / "typo.json")


@pytest.mark.parametrize("key", ["c_device_cpu_cores", "seed"])
def test_negative_counts_are_refused(key):
    with pytest.raises(ConfigError, match=key):
        BabyConfig.from_dict({key: -1})


def test_layernorm_of_one_vector_does_not_overflow_in_float16():
    from little_baby.engine.ops import layernorm_forward, layernorm_vector
    x = (np.random.default_rng(0).standard_normal(512) * 12).astype(np.float16)  # RMS 12
    g, b = np.ones(512, np.float16), np.zeros(512, np.float16)
    expected, _ = layernorm_forward(x[None].astype(np.float32), g.astype(np.float32),
                                    b.astype(np.float32), 1e-5)
    np.testing.assert_allclose(layernorm_vector(x, g, b, 1e-5).astype(np.float32), expected[0],
                               atol=2e-2)
