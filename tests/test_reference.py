"""The engine against independent definitions of its maths (float64):

- the whole model: Transformer's logits equal engine/reference.py's (plain functions, no
  code shared with ops.py), pre- and post-norm, several shapes;
- attention: sdpa_forward (chunked, threaded, the per-head shift) and sdpa_step equal
  softmax(q k^T / sqrt(d) + causal mask) v computed here the plain way.
"""
import math

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.engine import reference
from little_baby.engine.attention import sdpa
from little_baby.engine.backend import Backend
from little_baby.engine.runtime import Runtime
from little_baby.errors import ConfigError

SHAPES = [  # (config, T): one head; several heads, r_temp != 1, T < n_ctx; head_size != n_emb
          # and another LayerNorm epsilon
    (dict(n_ctx=8, n_emb=8, head_size=8, n_heads=1, n_layers=1), 8),
    (dict(n_ctx=16, n_emb=12, head_size=12, n_heads=3, n_layers=2, r_temp=0.7), 11),
    (dict(n_ctx=24, n_emb=16, head_size=24, n_heads=4, n_layers=3, n_hidden=2, r_temp=1.6,
          r_ln_eps=0.2), 24),
    (dict(n_ctx=12, n_emb=8, head_size=8, n_heads=2, n_layers=2), 1),
    (dict(n_ctx=16, n_emb=12, head_size=12, n_heads=3, n_layers=2, c_tie=True), 11),  # GPT-2's head
]


def random_model(c_sequence, shape, cores=2):
    """A float64 mha + mlp model with weights far from their initial values (so that
    attention is sharp, LayerNorm gains are not 1 and biases not 0), and 3 sequences."""
    cfg = BabyConfig(**shape, c_sequence=c_sequence, d_type="fp64", r_dropout=0.0,
                     c_device_cpu_cores=cores)
    baby = LittleBaby(cfg, CharTokenizer(list("abcdefghijk")))
    rng = np.random.default_rng(7)
    for v in baby.params.values():
        v += rng.normal(0, 0.3, v.shape)
    return baby, rng


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
@pytest.mark.parametrize("shape,T", SHAPES, ids=[f"shape{i}" for i in range(len(SHAPES))])
def test_engine_logits_equal_the_reference(c_sequence, shape, T):
    baby, rng = random_model(c_sequence, shape)
    x = rng.integers(0, baby.tokenizer.vocab_size, (3, T))
    logits = baby.logits(x)                                              # (3, T, V)
    for row in range(3):
        expected = reference.gpt(x[row], baby.params, baby.config)      # (T, V)
        np.testing.assert_allclose(logits[row], expected, rtol=0, atol=1e-10)
    assert logits.std() > 0.1  # logits that say something: a real comparison


def test_the_reference_tells_its_settings_apart():
    """The comparison above can fail: pre and post, and two temperatures, give logits far
    apart on the same weights."""
    shape, T = SHAPES[1]
    baby, rng = random_model("pre", shape)
    ids = rng.integers(0, baby.tokenizer.vocab_size, T)
    pre = reference.gpt(ids, baby.params, baby.config)
    post = reference.gpt(ids, baby.params, baby.config.replace(c_sequence="post"))
    colder = reference.gpt(ids, baby.params, baby.config.replace(r_temp=0.3))
    assert np.abs(pre - post).max() > 1e-2
    assert np.abs(pre - colder).max() > 1e-2


def test_the_reference_is_only_mha_and_mlp():
    baby, _ = random_model("pre", SHAPES[0][0])
    with pytest.raises(ConfigError, match="mha \\+ mlp"):
        reference.gpt([1, 2], baby.params, baby.config.replace(c_network="swi"))


# ---- attention --------------------------------------------------------------------------
def plain_attention(q, k, v, offset):
    """softmax(q k^T / sqrt(d) + M) v with M[i, j] = -inf for keys j after offset + i."""
    T, T_k, d = q.shape[2], k.shape[2], q.shape[3]
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(d)                       # (B, h, T, T_k)
    future = np.arange(T_k)[None, :] > offset + np.arange(T)[:, None]    # (T, T_k)
    scores = np.where(future, -np.inf, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


@pytest.mark.parametrize("offset", [0, 3])
@pytest.mark.parametrize("score_scale", [1.0, 40.0], ids=["scores", "large-scores"])
def test_sdpa_forward_is_the_plain_formula_in_uneven_chunks(offset, score_scale, monkeypatch):
    """B = 7 sequences cut into chunks of 1, 2, 2 and 2, run on 3 threads. Large scores
    leave rows ~50 below their head's best: the shared shift underflows there and the
    exact row-wise softmax must take over."""
    B, h, T, d = 7, 3, 5, 4
    T_k = offset + T
    rng = np.random.default_rng(3)
    q = rng.normal(size=(B, h, T, d)) * score_scale
    k, v = rng.normal(size=(B, h, T_k, d)), rng.normal(size=(B, h, T_k, d))
    monkeypatch.setattr(sdpa, "CHUNK_BYTES", 2 * h * T * T_k * 8)  # two sequences' scores
    rt = Runtime(Backend("cpu", "fp64", cpu_cores=3), keep_attention=True)
    y, cache = sdpa.sdpa_forward(q, k, v, 1.0 / math.sqrt(d), rt, offset)
    sizes = [c.stop - c.start for c in cache.chunks]
    assert sizes == [1, 2, 2, 2]
    expected, weights = plain_attention(q, k, v, offset)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rt.attention[0], weights, rtol=1e-12, atol=1e-12)
    if score_scale > 1:  # the case is the one it claims to be
        scores = q @ k.swapaxes(-1, -2) / math.sqrt(d)
        future = np.arange(T_k)[None, :] > offset + np.arange(T)[:, None]
        scores = np.where(future, -np.inf, scores)
        below = scores.max(axis=(2, 3), keepdims=True) - scores.max(axis=-1, keepdims=True)
        assert below.max() > 50


def test_sdpa_step_is_the_plain_formula_at_the_last_position():
    """One new position sees every cached key: the plain formula's last row."""
    h, T, d = 3, 6, 4
    rng = np.random.default_rng(5)
    q, k, v = (rng.normal(size=(1, h, T, d)) for _ in range(3))
    rt = Runtime(Backend("cpu", "fp64"), keep_attention=True)
    y = sdpa.sdpa_step(q[0, :, -1:], k[0], v[0], 1.0 / math.sqrt(d), rt)   # (h, 1, d)
    expected, weights = plain_attention(q, k, v, 0)
    np.testing.assert_allclose(y[:, 0], expected[0, :, -1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rt.attention[0][0, :, 0], weights[0, :, -1], rtol=1e-12)
