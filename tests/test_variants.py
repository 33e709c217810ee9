"""Every attention and network variant: gradients against finite differences (float64,
pre- and post-norm), causality, generation with the cache equal to recomputation (also
past n_ctx), save -> load and the parameter formula, and training on Tiny Shakespeare.

Attention variants run with the `mlp` network and network variants with `mha` attention
(not the full cross product, to keep the time down).
"""
import itertools
import math

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.engine.attention import ATTENTIONS, swh
from little_baby.errors import ConfigError
from little_baby.training.datasets import how_to_get
from little_baby.training.data import find_input, random_batch, read_corpus
from little_baby.engine.transformer import count_params
from little_baby.engine.network import NETWORKS
from little_baby.engine.ops import softmax_forward
from little_baby.training.trainer import Trainer
from tests.gradcheck import assert_close, check_model_gradients, numerical_grad, tiny_baby
from tests.test_generation import collected_logits

VARIANTS = [(a, "mlp") for a in ATTENTIONS] + [("mha", n) for n in NETWORKS if n != "mlp"]
IDS = [f"{a}-{n}" for a, n in VARIANTS]
# variant settings for the tiny float64 models (n_ctx 8, n_emb 8, 2 heads): small enough
# to be quick, chosen so each variant's special path runs (gqa shares one kv head, rfa's
# window of 3 leaves positions for its memory)
TINY_SETTINGS = {"gqa": dict(n_kv_heads=1), "rfa": dict(s_window=3), "ggl": dict(n_groups=2),
                 "lor": dict(n_rank=2), "moe": dict(n_experts=3, n_hidden=2)}
SHAKESPEARE = find_input("shakespeare.txt")


def settings(attention, network, **more):
    return dict(c_attention=attention, c_network=network, **TINY_SETTINGS.get(attention, {}),
                **TINY_SETTINGS.get(network, {}), **more)


# ---- gradients --------------------------------------------------------------------------
@pytest.mark.parametrize("c_sequence", ["pre", "post"])
@pytest.mark.parametrize("attention,network", [v for v in VARIANTS if v[0] != "swh"],
                         ids=[i for i in IDS if not i.startswith("swh")])
def test_gradients(attention, network, c_sequence):
    check_model_gradients(**settings(attention, network, c_sequence=c_sequence))


def check_gradients(baby, x, y, skip=()):
    """Every parameter's analytic gradient against finite differences, but those in `skip`."""
    _, grads = baby.loss_and_grads(x, y)
    checked = [k for k in baby.params if not any(s in k for s in skip)]
    for key in checked:
        idx, numeric = numerical_grad(lambda: baby.loss(x, y), baby.params[key], 12)
        assert_close(np.asarray(grads[key]).reshape(-1)[idx], numeric, key)
    return checked


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_swh_gradients_are_exact_where_the_routing_is_fixed(c_sequence):
    """swh's gate gets a straight-through estimate, which is not the derivative (that is
    0: argmax is piecewise constant), and passes it on to x. With the gate weights at 0
    the routing is fixed (by the gate biases) and no estimate reaches x, so every other
    parameter's gradient must be the true derivative."""
    baby, x, y = tiny_baby(**settings("swh", "mlp", c_sequence=c_sequence))
    for i in range(baby.config.n_layers):
        baby.params[f"blocks.{i}.attn.gate.weight"][:] = 0.0
    checked = check_gradients(baby, x, y, skip=("attn.gate.",))
    assert len(checked) == len(baby.params) - 2 * baby.config.n_layers


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_swh_straight_through_is_the_derivative_of_its_surrogate(c_sequence, monkeypatch):
    """The straight-through estimator, defined: the gradient of the loss in which the hard
    mask m(z) is replaced by m(z0) + softmax(z) - softmax(z0), z0 the gate logits at the
    point of the check (the same value there, with softmax's derivative). With token-
    dependent routing every gradient, gate and x paths included, must match it.
    One core: the surrogate assumes one forward per block per pass, not one per shard."""
    baby, x, y = tiny_baby(**settings("swh", "mlp", c_sequence=c_sequence), c_device_cpu_cores=1)
    n_layers, real_route = baby.config.n_layers, swh.route
    rng = np.random.default_rng(4)
    for i in range(n_layers):  # gates strong enough to route tokens to different heads
        baby.params[f"blocks.{i}.attn.gate.weight"][:] = rng.normal(0, 1, (8, 2))
    at_z0, calls = [], itertools.count()

    def surrogate(z):
        i = next(calls) % n_layers  # each forward pass routes once per block, in order
        if len(at_z0) <= i:
            at_z0.append(real_route(z))
        m0, p0 = at_z0[i]
        p = softmax_forward(z)
        return m0 + p - p0, p

    monkeypatch.setattr(swh, "route", surrogate)
    assert len(check_gradients(baby, x, y)) == len(baby.params)
    assert all(len(np.unique(m.argmax(-1))) > 1 for m, _ in at_z0)  # tokens pick different heads


# ---- causality, generation, files -------------------------------------------------------
@pytest.mark.parametrize("attention,network", VARIANTS, ids=IDS)
def test_no_position_sees_a_later_one(attention, network):
    baby, x, _ = tiny_baby(**settings(attention, network))
    base = baby.logits(x)
    for t in range(x.shape[1]):
        x_t = x.copy()
        x_t[:, t] = (x_t[:, t] + 1) % 7
        logits = baby.logits(x_t)
        np.testing.assert_allclose(logits[:, :t], base[:, :t], rtol=1e-10, atol=1e-12,
                                   err_msg=f"changing token {t} changed earlier logits")
        assert np.abs(logits[:, t] - base[:, t]).max() > 1e-6  # it does change its own


@pytest.mark.parametrize("attention,network", VARIANTS, ids=IDS)
def test_generation_state_equals_recomputation_past_n_ctx(attention, network):
    baby, _, _ = tiny_baby(**settings(attention, network))  # n_ctx = 8
    ids_c, with_state = collected_logits(baby, [1, 2, 3], 30, use_cache=True)
    ids_n, without = collected_logits(baby, [1, 2, 3], 30, use_cache=False)
    assert ids_c == ids_n
    np.testing.assert_allclose(with_state, without, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("attention,network", VARIANTS, ids=IDS)
def test_save_load_and_parameter_formula(attention, network, tmp_path):
    baby, x, _ = tiny_baby(**settings(attention, network))
    loaded = LittleBaby.load(baby.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.logits(x), baby.logits(x))
    cfg = baby.config
    assert baby.n_params == loaded.n_params == count_params(cfg, baby.tokenizer.vocab_size)
    for part, module in (("attn", ATTENTIONS[attention]), ("net", NETWORKS[network])):
        size = sum(v.size for k, v in baby.params.items() if k.startswith(f"blocks.0.{part}."))
        assert module.n_params(cfg) == size, f"{part} formula"


# ---- special cases and settings ---------------------------------------------------------
def test_gqa_with_all_kv_heads_is_mha():
    """n_kv_heads = n_heads: the same weights (the layouts agree) give mha's logits."""
    mha, x, _ = tiny_baby()
    gqa = LittleBaby(mha.config.replace(c_attention="gqa"), mha.tokenizer, params=mha.params)
    np.testing.assert_allclose(gqa.logits(x), mha.logits(x), rtol=1e-12)


def test_rfa_with_a_window_of_n_ctx_is_mha():
    """s_window >= n_ctx: every query sees its whole past in the window, the memory is
    never used, and the same weights give mha's logits."""
    mha, x, _ = tiny_baby()
    rfa = LittleBaby(mha.config.replace(c_attention="rfa", s_window=8), mha.tokenizer,
                     params=mha.params)
    np.testing.assert_allclose(rfa.logits(x), mha.logits(x), rtol=1e-12)


def test_variant_settings_are_checked_and_old_names_accepted():
    with pytest.raises(ConfigError, match="n_groups"):
        BabyConfig(c_network="ggl", n_emb=30, n_groups=4)
    BabyConfig(c_network="mlp", n_emb=30, n_groups=4, head_size=30, n_heads=3)  # only ggl needs it
    with pytest.raises(ConfigError, match="n_kv_heads"):
        BabyConfig(c_attention="gqa", n_heads=4, n_kv_heads=3)
    cfg = BabyConfig(c_attention="lda", c_network="lin")
    assert (cfg.c_attention, cfg.c_network) == ("gla", "gln")


# ---- training ---------------------------------------------------------------------------
@pytest.mark.skipif(SHAKESPEARE is None, reason="shakespeare.txt not found: " +
                    how_to_get("shakespeare"))
@pytest.mark.parametrize("attention,network", VARIANTS, ids=IDS)
def test_trains_on_shakespeare(attention, network):
    """120 steps of a 2-layer, n_emb 48 model: the validation loss starts at the uniform
    guess ln(65) = 4.17 and must end below 2.8, well under the 3.31 of a model that knows
    only how often each character occurs (so it uses the context)."""
    text = read_corpus(SHAKESPEARE)
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    split = int(0.9 * len(ids))
    cfg = BabyConfig(c_attention=attention, c_network=network, n_ctx=32, n_emb=48, head_size=48,
                     n_heads=4, n_layers=2, batch_size=16, r_dropout=0.0, r_learn=3e-3,
                     n_kv_heads=2, s_window=8,
                     n_hidden=1 if network == "moe" else 4)  # moe: 4 experts as wide as one mlp
    baby = LittleBaby(cfg, tok)
    rng = np.random.default_rng(0)
    val_x, val_y = random_batch(ids[split:], 64, cfg.n_ctx, rng)
    before = baby.loss(val_x, val_y)
    trainer = Trainer(baby, total_steps=120)
    for _ in range(120):
        trainer.step(*random_batch(ids[:split], cfg.batch_size, cfg.n_ctx, rng))
    after = baby.loss(val_x, val_y)
    assert abs(before - math.log(tok.vocab_size)) < 0.3
    assert after < 2.8, f"{attention}/{network}: validation loss {after:.3f} did not fall enough"


@pytest.mark.parametrize("attention", ["mha", "moh", "swh", "gqa", "rfa"])
def test_attention_weights_are_causal_rows_that_sum_to_one(attention):
    baby, x, _ = tiny_baby(**settings(attention, "mlp"))
    _, weights = baby.logits(x, return_attention=True)
    assert len(weights) == baby.config.n_layers
    for w in weights:
        assert w.shape == (3, baby.config.n_heads, 8, 8)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
        assert np.all(np.triu(w, k=1) == 0)
