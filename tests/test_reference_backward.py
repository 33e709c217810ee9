"""The engine's backward against engine/reference_backward.py at realistic sizes (float64),
as llm.c's test_gpt2.c checks every gradient tensor; and the reference backward itself
against finite differences on a tiny model, so the oracle is checked too."""
import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.engine import reference, reference_backward
from tests.gradcheck import assert_close, numerical_grad

REALISTIC = [  # the baby's shape and variations: T < n_ctx, head_size != n_emb, r_temp != 1,
             # another LayerNorm epsilon
    dict(n_ctx=64, n_emb=128, head_size=128, n_heads=4, n_layers=4),
    dict(n_ctx=64, n_emb=96, head_size=64, n_heads=8, n_layers=3, n_hidden=2, r_temp=0.8,
         r_ln_eps=0.05),
]


def model(c_sequence, shape, seed=3):
    """A float64 mha + mlp model, weights moved well away from their initial values."""
    cfg = BabyConfig(**shape, c_sequence=c_sequence, d_type="fp64", r_dropout=0.0)
    baby = LittleBaby(cfg, CharTokenizer(list("abcdefghijklmnopqrstuvwxyz .,;!?")))
    rng = np.random.default_rng(seed)
    for v in baby.params.values():
        v += rng.normal(0, 0.1, v.shape)
    return baby, rng


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
@pytest.mark.parametrize("shape", REALISTIC + [{**REALISTIC[0], "c_tie": True}],
                         ids=["baby", "narrow-heads", "tied"])
def test_the_fast_backward_equals_the_reference(c_sequence, shape):
    baby, rng = model(c_sequence, shape)
    B, T = 4, shape["n_ctx"] - 3
    x = rng.integers(0, baby.tokenizer.vocab_size, (B, T))
    y = rng.integers(0, baby.tokenizer.vocab_size, (B, T))
    loss, grads = baby.loss_and_grads(x, y)
    ref_loss, ref = reference_backward.batch_loss_and_grads(x, y, baby.params, baby.config)
    assert abs(loss - ref_loss) < 1e-12 * abs(ref_loss)
    assert set(grads) == set(ref) == set(baby.params)
    for key, want in ref.items():
        got = np.asarray(grads[key])
        scale = np.abs(want).max()
        assert scale > 0, key  # every tensor gets a gradient: a real comparison
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * scale, err_msg=key)


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
@pytest.mark.parametrize("c_tie", [False, True], ids=["untied", "tied"])
def test_the_reference_backward_equals_finite_differences(c_sequence, c_tie):
    shape = dict(n_ctx=6, n_emb=8, head_size=8, n_heads=2, n_layers=2, n_hidden=2, r_temp=1.3,
                 c_tie=c_tie, r_ln_eps=0.3)
    baby, rng = model(c_sequence, shape, seed=5)
    ids, targets = rng.integers(0, 8, 5), rng.integers(0, 8, 5)
    params = {k: np.array(v) for k, v in baby.params.items()}
    _, grads = reference_backward.gpt_loss_and_grads(ids, targets, params, baby.config)

    def loss():
        logits = reference.gpt(ids, params, baby.config)
        return reference_backward.cross_entropy_backward(logits, targets)[0]

    for key, value in params.items():
        idx, numeric = numerical_grad(loss, value, n_samples=6, seed=5)
        assert_close(grads[key].reshape(-1)[idx], numeric, key, rtol=1e-6, atol=1e-7)


def test_the_comparison_can_fail():
    """A gradient off by a little (one LayerNorm gain's) is caught by the tolerance above."""
    baby, rng = model("pre", REALISTIC[0])
    x = rng.integers(0, baby.tokenizer.vocab_size, (2, 16))
    _, ref = reference_backward.batch_loss_and_grads(x, x, baby.params, baby.config)
    _, grads = baby.loss_and_grads(x, x)
    wrong = np.asarray(grads["blocks.1.ln1.weight"]) * (1 + 1e-6)
    scale = np.abs(ref["blocks.1.ln1.weight"]).max()
    assert np.abs(wrong - ref["blocks.1.ln1.weight"]).max() > 1e-10 * scale


@pytest.mark.parametrize("c_tie", [False, True], ids=["untied", "tied"])
def test_shards_added_up_block_by_block_equal_the_reference(monkeypatch, c_tie):
    """Three shards of unequal rows (5 = 2 + 2 + 1), added up in blocks of 7 floats that
    straddle the tensors' ends, into arrays given by the caller (as the trainer gives
    AdamW's), each shard writing its vocabulary-sized gradients (wte's, an untied head's)
    into arrays it keeps from call to call (as the trainer's steps do): the whole batch's
    gradients, on the second call too."""
    from little_baby.engine import parallel
    monkeypatch.setattr(parallel, "CPU_BLOCK", 7)
    baby, rng = model("pre", {**REALISTIC[1], "n_ctx": 16, "c_device_cpu_cores": 3,
                              "c_tie": c_tie})
    out = {k: np.full_like(v, np.nan) for k, v in baby.params.items()}
    keep = {}
    for call in range(2):
        x = rng.integers(0, baby.tokenizer.vocab_size, (5, 13))
        y = rng.integers(0, baby.tokenizer.vocab_size, (5, 13))
        loss, grads = baby.loss_and_grads(x, y, out=out, keep=keep)
        if call == 0:
            first = {i: dict(keep[i]) for i in range(3)}
        ref_loss, ref = reference_backward.batch_loss_and_grads(x, y, baby.params, baby.config)
        assert abs(loss - ref_loss) < 1e-12 * abs(ref_loss)
        for key, want in ref.items():
            assert grads[key] is out[key], key
            np.testing.assert_allclose(grads[key], want, rtol=0,
                                       atol=1e-10 * np.abs(want).max(), err_msg=key)
    kept = ["wte.weight"] + ([] if c_tie else ["lm_head.weight"])  # the vocabulary-sized
    assert all(sorted(keep[i]) == sorted(kept) for i in range(3))
    assert all(keep[i][k] is first[i][k] for i in range(3) for k in kept)  # reused, not new


@pytest.mark.parametrize("cores, B", [(1, 3), (2, 1)], ids=["one-core", "batch-of-one"])
def test_one_shard_writes_into_out_too(cores, B):
    """One shard (one core, or a batch of one row) has nothing to add up: its gradients
    are still what `out` holds afterwards, as with several shards."""
    baby, rng = model("pre", {**REALISTIC[1], "n_ctx": 16, "c_device_cpu_cores": cores})
    out = {k: np.full_like(v, np.nan) for k, v in baby.params.items()}
    x = rng.integers(0, baby.tokenizer.vocab_size, (B, 13))
    _, grads = baby.loss_and_grads(x, x, out=out)
    _, ref = reference_backward.batch_loss_and_grads(x, x, baby.params, baby.config)
    assert grads is out
    for key, want in ref.items():
        np.testing.assert_allclose(out[key], want, rtol=0, atol=1e-10 * np.abs(want).max(),
                                   err_msg=key)
