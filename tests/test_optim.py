"""AdamW against a plain per-parameter reference implementation; the schedule's shape."""
import math

import numpy as np
import pytest

from little_baby.engine import optim
from little_baby.engine.optim import AdamW, decays, flatten_params, lr_at


def reference_adamw(params, grads_seq, lrs, wd, b1, b2, eps, clip):
    params = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v_ = {k: np.zeros_like(v) for k, v in params.items()}
    for t, (grads, lr) in enumerate(zip(grads_seq, lrs), start=1):
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        c = min(1.0, clip / norm)
        for k in params:
            g = grads[k] * c
            m[k] = b1 * m[k] + (1 - b1) * g
            v_[k] = b2 * v_[k] + (1 - b2) * g * g
            mhat, vhat = m[k] / (1 - b1 ** t), v_[k] / (1 - b2 ** t)
            if decays(k, params[k]):
                params[k] = params[k] * (1 - lr * wd)
            params[k] = params[k] - lr * mhat / (np.sqrt(vhat) + eps)
    return params


@pytest.mark.parametrize("block", [None, 4], ids=["whole", "blocks-of-4"])
def test_adamw_matches_reference(block, monkeypatch):
    """Also in blocks of 4 floats, which cut the tensors and the 3 parts unevenly, with a
    decayed matrix across a part's edge."""
    if block:
        monkeypatch.setattr(optim, "CPU_BLOCK", block)
    rng = np.random.default_rng(0)
    params = {"wte.weight": rng.normal(size=(4, 3)), "blocks.0.net.up.weight": rng.normal(size=(3, 4)),
              "blocks.0.net.up.bias": rng.normal(size=4),
              "blocks.0.net.down.weight": rng.normal(size=(4, 3))}
    grads_seq = [{k: rng.normal(size=v.shape) * 3 for k, v in params.items()} for _ in range(4)]
    lrs = [0.1, 0.05, 0.02, 0.01]
    expected = reference_adamw(params, grads_seq, lrs, 0.1, 0.9, 0.99, 1e-8, 1.0)
    flat, views = flatten_params(params)
    opt = AdamW(flat, views, weight_decay=0.1, betas=(0.9, 0.99), eps=1e-8, clip=1.0, n_parts=3)
    for grads, lr in zip(grads_seq, lrs):
        opt.step(grads, lr)
    assert block is None or len(opt._blocks(opt.parts[0])) > 1
    for k in params:
        np.testing.assert_allclose(views[k], expected[k], rtol=1e-7, atol=1e-10)


def test_no_decay_on_biases_norms_and_embeddings():
    assert decays("blocks.0.attn.qkv.weight", np.zeros((2, 2)))
    assert not decays("blocks.0.attn.qkv.bias", np.zeros(2))
    assert not decays("blocks.0.ln1.weight", np.zeros(2))
    assert not decays("wte.weight", np.zeros((2, 2)))


def test_schedule_warms_up_then_decays_to_a_tenth():
    lrs = [lr_at(s, 100, 10, 1.0) for s in range(101)]
    assert lrs[0] == 0.1 and lrs[9] == 1.0
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert abs(lrs[100] - 0.1) < 1e-12


def test_no_decay_on_two_dimensional_biases():
    """moe keeps one down-projection bias per expert: (E, C), still a bias."""
    assert not decays("blocks.0.net.down.bias", np.zeros((4, 8)))
