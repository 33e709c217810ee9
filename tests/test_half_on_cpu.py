"""float16 weights on the CPU (d_type='fp16'): held in half the memory, every product
computed in float32 (engine/backend.py), so the logits are float32's, exactly, for the
same weights; generation only (training refuses it)."""
import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.cli.main import main
from little_baby.config import ATTENTION_NAMES, NETWORK_NAMES
from little_baby.errors import TrainingError, WeightsError
from tests.little_texts import GREEK

VARIANTS = [(a, "mlp") for a in ATTENTION_NAMES] + [("mha", n) for n in NETWORK_NAMES[1:]]


def test_the_age_model_in_half_the_memory_gives_the_same_logits_and_text():
    """The age models' weights are float16 on disk: fp32 and fp16 hold the same values."""
    full = LittleBaby.load("age-48-months")
    half = LittleBaby.load("age-48-months", d_type="fp16")
    assert {a.dtype for a in half.params.values()} == {np.dtype("float16")}
    assert half.flat.nbytes * 2 == full.flat.nbytes
    x = full.tokenizer.encode("ROMEO:\nWhat light through yonder window breaks?")[None, :]
    logits = half.logits(x)
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, full.logits(x), rtol=0, atol=1e-6)
    for cache in (True, False):
        assert (half.generate("ROMEO:", max_new_tokens=60, temperature=0, use_cache=cache)
                == full.generate("ROMEO:", max_new_tokens=60, temperature=0, use_cache=cache))


@pytest.mark.parametrize("attention, network", VARIANTS, ids=[f"{a}-{n}" for a, n in VARIANTS])
def test_every_variant_computes_in_float32_from_float16_weights(attention, network):
    """Weights rounded to float16 first: fp32 and fp16 then hold the same numbers, and
    any product left in float16 would show as an error of about 1e-3."""
    cfg = BabyConfig(n_ctx=16, n_emb=32, head_size=32, n_heads=4, n_layers=2, r_dropout=0.0,
                     c_attention=attention, c_network=network)
    tokenizer = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz .,"))
    full = LittleBaby(cfg, tokenizer)
    rng = np.random.default_rng(0)
    rounded = {k: (v + rng.normal(0, 0.05, v.shape)).astype(np.float16)
               for k, v in full.params.items()}
    full.params = rounded
    half = LittleBaby(cfg.replace(d_type="fp16"), tokenizer, params=rounded)
    x = rng.integers(0, tokenizer.vocab_size, (2, 12))
    np.testing.assert_allclose(half.logits(x), full.logits(x), rtol=0, atol=1e-6)
    assert half.generate("abc", max_new_tokens=8, temperature=0) == \
        full.generate("abc", max_new_tokens=8, temperature=0)


def test_training_in_float16_is_refused_before_the_model_changes(tmp_path):
    half = LittleBaby.load("age-48-months", d_type="fp16")
    before = (half.guid, half.tokenizer.vocab_size, half.source, dict(half.report))
    with pytest.raises(TrainingError, match="d_type fp16, which is for generation"):
        half.fit(GREEK * 3, max_iters=2, out=tmp_path / "tuned", quiet=True)
    assert (half.guid, half.tokenizer.vocab_size, half.source, half.report) == before
    assert not (tmp_path / "tuned").exists()
    x = np.zeros((1, 8), dtype=np.int64)
    with pytest.raises(TrainingError, match="for generation"):
        half.loss_and_grads(x, x)


def test_a_half_model_saves_as_float16_weights_that_load_at_full_speed(tmp_path):
    """Holding the weights in float16 is a choice made when loading: the saved config
    says fp32, the weights file float16, and the reload runs in float32."""
    from safetensors.numpy import load_file
    LittleBaby.load("age-48-months", d_type="fp16").save(tmp_path / "half")
    back = LittleBaby.load(tmp_path / "half")
    assert back.config.d_type == "fp32" and back.weights_dtype == "float16"
    assert {v.dtype for v in load_file(str(tmp_path / "half" / "model.safetensors")).values()} \
        == {np.dtype("float16")}
    x = back.tokenizer.encode("ROMEO:")[None, :]
    np.testing.assert_array_equal(back.logits(x), LittleBaby.load("age-48-months").logits(x))


def test_float32_weights_loaded_into_float16_are_saved_as_float16(tmp_path):
    full = LittleBaby.load("age-48-months")
    full.weights_dtype = "float32"
    full.save(tmp_path / "full")
    half = LittleBaby.load(tmp_path / "full", d_type="fp16")
    assert half.weights_dtype == "float16"  # what it holds: saving it writes no float32 copy


def test_a_weight_beyond_float16s_range_is_refused_by_name():
    full = LittleBaby.load("age-48-months")
    params = {k: v.astype(np.float32) for k, v in full.params.items()}
    params["ln_f.weight"][3] = 1e6
    with pytest.raises(WeightsError, match="'ln_f.weight' holds values beyond float16's range"), \
            np.errstate(over="ignore"):
        LittleBaby(full.config.replace(d_type="fp16"), full.tokenizer, params=params)


def test_a_gpu_fp16_model_loads_in_float32_on_a_machine_without_one(tmp_path, monkeypatch):
    import json
    from little_baby.io.store import model_folder
    LittleBaby.load("age-48-months").save(tmp_path / "gpu")
    config = json.loads((tmp_path / "gpu" / "config.json").read_text())
    (tmp_path / "gpu" / "config.json").write_text(
        json.dumps({**config, "c_device": "gpu", "d_type": "fp16"}))
    monkeypatch.setattr(model_folder, "gpu_usable", lambda: False)
    with pytest.warns(UserWarning, match="loads on the CPU"):
        baby = LittleBaby.load(tmp_path / "gpu")
    assert (baby.config.c_device, baby.config.d_type) == ("cpu", "fp32")


def test_generate_half_on_the_command_line(capsys, monkeypatch):
    """--half loads the weights to be held in float16, and the text is float32's."""
    from little_baby.cli.commands import generate
    held = []
    real_load = generate.LittleBaby.load

    def load(*args, **kwargs):
        baby = real_load(*args, **kwargs)
        held.append(baby.flat.dtype)
        return baby
    monkeypatch.setattr(generate.LittleBaby, "load", load)
    assert main(["generate", "age-48-months", "--prompt", "ROMEO:", "--max-tokens", "40",
                 "--temperature", "0", "--half"]) == 0
    half = capsys.readouterr().out
    assert main(["generate", "age-48-months", "--prompt", "ROMEO:", "--max-tokens", "40",
                 "--temperature", "0"]) == 0
    assert half == capsys.readouterr().out and half.startswith("ROMEO:")
    assert held == [np.dtype("float16"), np.dtype("float32")]
