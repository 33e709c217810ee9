"""Finite-difference gradient checks (float64, tiny shapes), shared by the tests."""
import numpy as np

from little_baby import BabyConfig, CharTokenizer, LittleBaby

TINY = dict(n_ctx=8, n_emb=8, head_size=8, n_heads=2, n_layers=2, r_dropout=0.0, d_type="fp64")


def numerical_grad(f, x, n_samples=None, eps=1e-6, seed=0):
    """Central differences of scalar f() w.r.t. entries of array x (modified in place).

    Returns (indices, gradients) for all entries, or for n_samples random ones.
    """
    flat = x.reshape(-1)
    idx = np.arange(flat.size)
    if n_samples is not None and n_samples < flat.size:
        idx = np.random.default_rng(seed).choice(flat.size, n_samples, replace=False)
    out = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        out[j] = (up - down) / (2 * eps)
    return idx, out


def assert_close(analytic, numeric, what, rtol=1e-5, atol=1e-7):
    err = np.max(np.abs(analytic - numeric) / (atol + rtol * np.abs(numeric) + 1e-12))
    assert err <= 1.0, f"{what}: analytic and numerical gradients differ (worst {err:.3g}x tolerance)\n" \
                       f"analytic {analytic[:6]}\nnumeric  {numeric[:6]}"


def tiny_baby(T=None, **overrides):
    """A float64 model with no dropout and a 7-symbol vocabulary, plus a batch (x, y)
    of T tokens per row (n_ctx when None)."""
    cfg = BabyConfig(**{**TINY, **overrides})
    baby = LittleBaby(cfg, CharTokenizer(list("abcdefg")))
    rng = np.random.default_rng(1)
    for v in baby.params.values():  # move LayerNorm gains and biases off their 1s and 0s
        v += rng.normal(0, 0.1, v.shape)
    x = rng.integers(0, 7, (3, T or cfg.n_ctx))
    y = rng.integers(0, 7, (3, T or cfg.n_ctx))
    return baby, x, y


def check_model_gradients(n_samples=12, T=None, **overrides):
    """Every parameter's gradient of the whole model against finite differences."""
    baby, x, y = tiny_baby(T, **overrides)
    _, grads = baby.loss_and_grads(x, y)
    assert list(grads) == list(baby.params), "gradients must have the parameters' keys, in order"
    for key, value in baby.params.items():
        assert grads[key].shape == value.shape, key
        idx, numeric = numerical_grad(lambda: baby.loss(x, y), value, n_samples)
        assert_close(np.asarray(grads[key]).reshape(-1)[idx], numeric, key)
