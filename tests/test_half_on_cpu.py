"""float16 weights on the CPU (d_type='fp16'): held in half the memory, every product
computed in float32 (engine/backend.py), so the logits are float32's, exactly, for the
same weights; generation only (training refuses it)."""
import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.cli.main import main
from little_baby.config import ATTENTION_NAMES, NETWORK_NAMES
from little_baby.errors import TrainingError

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


def test_training_in_float16_is_refused_in_one_line(tmp_path):
    half = LittleBaby.load("age-48-months", d_type="fp16")
    with pytest.raises(TrainingError, match="is for generation: AdamW's small updates vanish"):
        half.fit("To be, or not to be: that is the question.\n" * 40, max_iters=2,
                 out=tmp_path / "tuned", quiet=True)
    assert not (tmp_path / "tuned").exists()


def test_generate_half_on_the_command_line(capsys):
    assert main(["generate", "age-48-months", "--prompt", "ROMEO:", "--max-tokens", "40",
                 "--temperature", "0", "--half"]) == 0
    half = capsys.readouterr().out
    assert main(["generate", "age-48-months", "--prompt", "ROMEO:", "--max-tokens", "40",
                 "--temperature", "0"]) == 0
    assert half == capsys.readouterr().out and half.startswith("ROMEO:")


def test_every_half_widens_to_the_float_numpy_gives():
    """backend.like widens float16 weights by their bits: all 65,536 halves (zeros,
    subnormals, infinities, NaNs included) give NumPy's float32, bit for bit."""
    from little_baby.engine.backend import like
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    halves = np.concatenate([halves, halves[::-1]]).reshape(4, -1)  # more than one block
    wide, want = like(halves, np.zeros(1, np.float32)), halves.astype(np.float32)
    assert wide.dtype == np.float32 and wide.shape == halves.shape
    same = (wide.view(np.uint32) == want.view(np.uint32)) | (np.isnan(wide) & np.isnan(want))
    assert same.all()
    x64 = np.zeros(1, np.float64)
    assert like(halves, x64) is halves  # only float16 into float32 is widened here
