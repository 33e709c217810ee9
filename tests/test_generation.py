"""Generation: the KV cache gives the logits of a full recomputation, also past n_ctx."""
import numpy as np
import pytest

from little_baby.engine.sampling import generate_ids, sample, window_starts
from tests.gradcheck import tiny_baby


def collected_logits(baby, prompt_ids, n_new, use_cache):
    rows = []
    ids = list(generate_ids(baby.transformer, baby.backend, prompt_ids, n_new, temperature=1.0,
                            seed=3, use_cache=use_cache, on_logits=rows.append))
    return ids, np.array(rows)


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_cache_equals_recomputation_past_n_ctx(c_sequence):
    baby, _, _ = tiny_baby(c_sequence=c_sequence)  # n_ctx = 8
    ids_c, with_cache = collected_logits(baby, [1, 2, 3], 30, use_cache=True)
    ids_n, without = collected_logits(baby, [1, 2, 3], 30, use_cache=False)
    assert ids_c == ids_n
    np.testing.assert_allclose(with_cache, without, rtol=1e-10, atol=1e-12)


def test_no_cache_step_is_the_models_forward_on_the_window():
    """The cacheless path is the plain forward pass over each window of window_starts."""
    baby, _, _ = tiny_baby()
    prompt = [1, 2, 3, 4, 5]
    ids, rows = collected_logits(baby, prompt, 12, use_cache=False)
    text = prompt + ids
    for j, start in enumerate(window_starts(len(prompt), 12, baby.config.n_ctx)):
        end = len(prompt) + j
        assert 0 < end - start <= baby.config.n_ctx
        expected = baby.logits(np.array([text[start:end]]))[0, -1]
        np.testing.assert_allclose(rows[j], expected, rtol=1e-10)


def test_window_never_exceeds_n_ctx_and_a_long_prompt_is_cut():
    starts = list(window_starts(20, 40, 8))
    assert starts[0] == 12
    assert all(0 < (20 + j) - s <= 8 for j, s in enumerate(starts))


def test_sampling_options():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 3.0, 1.0, 2.9])
    assert sample(logits, rng, temperature=0) == 1
    assert {sample(logits, rng, top_k=2) for _ in range(200)} == {1, 3}
    assert {sample(logits, rng, top_p=0.01) for _ in range(50)} == {1}


def test_generate_is_seeded_and_stream_matches():
    baby, _, _ = tiny_baby()
    a = baby.generate("abc", max_new_tokens=20, seed=5)
    assert a == baby.generate("abc", max_new_tokens=20, seed=5)
    assert a == "".join(baby.stream("abc", max_new_tokens=20, seed=5))
    assert len(a) == 20 and set(a) <= set("abcdefg")


def test_unknown_prompt_symbols_are_named():
    baby, _, _ = tiny_baby()
    with pytest.raises(ValueError, match="'z'"):
        baby.generate("abz")
    assert len(baby.generate("abz", max_new_tokens=3, unknown="drop")) == 3


def test_attention_weights_on_request():
    baby, x, _ = tiny_baby()
    logits, attention = baby.logits(x, return_attention=True)
    assert len(attention) == baby.config.n_layers
    att = attention[0]
    assert att.shape == (3, 2, 8, 8)
    np.testing.assert_allclose(att.sum(-1), 1.0)
    assert np.all(np.triu(att[0, 0], k=1) == 0)  # causal


def test_more_tokens_than_n_ctx_is_a_clear_error():
    from little_baby.errors import ContextError
    baby, _, _ = tiny_baby()  # n_ctx = 8
    with pytest.raises(ContextError, match="n_ctx = 8"):
        baby.logits(np.zeros((1, 9), dtype=np.int64))


def test_a_prompt_longer_than_n_ctx_generates_from_its_end():
    baby, _, _ = tiny_baby()
    prompt = "abcdefgabcdefgabc"
    text = baby.generate(prompt, max_new_tokens=12, seed=1)
    assert len(text) == 12
    assert text == baby.generate(prompt[-8:], max_new_tokens=12, seed=1)  # n_ctx = 8


def test_negative_temperature_is_refused():
    from little_baby.errors import GenerationError
    baby, _, _ = tiny_baby()
    with pytest.raises(GenerationError, match="temperature"):
        baby.generate("ab", max_new_tokens=2, temperature=-1)


def test_models_do_not_share_a_tokenizer():
    """Finetuning grows a model's vocabulary; another model built from the same
    tokenizer object must keep its own."""
    from little_baby import BabyConfig, CharTokenizer, LittleBaby
    tok = CharTokenizer.from_text("abc")
    cfg = BabyConfig(n_ctx=8, n_emb=8, head_size=8, n_heads=2, n_layers=1)
    first, second = LittleBaby(cfg, tok), LittleBaby(cfg, tok)
    first.expand_vocab("xyz")
    assert first.tokenizer.vocab_size == 6 and second.tokenizer.vocab_size == 3
    assert len(second.generate("ab", max_new_tokens=3, seed=0)) == 3


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_step_is_forward_at_one_position_with_its_attention_weights(c_sequence):
    """Transformer.step (one position, vectors) gives forward's last logits and attention row."""
    from little_baby.engine.runtime import Runtime
    baby, x, _ = tiny_baby(c_sequence=c_sequence)  # n_ctx = 8
    seq = x[:1]
    full_logits, full_attention = baby.logits(seq, return_attention=True)
    model, rt = baby.transformer, Runtime(baby.backend, keep_attention=True)
    states = model.new_states(1, rt)
    model.forward(seq[:, :5], rt, states)
    rt.attention.clear()
    for t in range(5, 8):
        logits = model.step(int(seq[0, t]), t, states, rt)
        np.testing.assert_allclose(logits, full_logits[0, t], rtol=1e-10, atol=1e-12)
        assert len(rt.attention) == baby.config.n_layers
        for layer, att in enumerate(rt.attention):
            assert att.shape == (1, 2, 1, t + 1)
            np.testing.assert_allclose(att[0, :, 0], full_attention[layer][0, :, t, :t + 1],
                                       rtol=1e-10, atol=1e-12)
        rt.attention.clear()


def test_step_past_n_ctx_is_a_clear_error():
    from little_baby.errors import ContextError
    from little_baby.engine.runtime import Runtime
    baby, _, _ = tiny_baby()  # n_ctx = 8
    rt = Runtime(baby.backend)
    with pytest.raises(ContextError, match="n_ctx = 8"):
        baby.transformer.step(1, 8, baby.transformer.new_states(1, rt), rt)
