"""Each op's backward against finite differences, float64."""
import numpy as np
import pytest

from little_baby.engine import ops
from little_baby.engine.attention.sdpa import sdpa_backward, sdpa_forward
from little_baby.engine.backend import Backend
from little_baby.engine.runtime import Runtime
from tests.gradcheck import assert_close, numerical_grad

rng = np.random.default_rng(0)


def weights_like(a):
    """A fixed random projection: loss = sum(out * W) makes every output element count."""
    return np.random.default_rng(42).normal(size=a.shape)


def check(forward, backward, inputs, what):
    """forward(*inputs) -> out; backward(dout) -> grads matching inputs."""
    out = forward(*inputs)
    w = weights_like(out)
    grads = backward(w)
    for name, x, g in zip(what, inputs, grads):
        if g is None:
            continue
        idx, numeric = numerical_grad(lambda: float((forward(*inputs) * w).sum()), x)
        assert_close(g.reshape(-1)[idx], numeric, name)


def test_linear():
    x, w, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    check(lambda x, w, b: ops.linear_forward(x, w, b),
          lambda dy: ops.linear_backward(dy, x, w), [x, w, b], ["x", "W", "b"])


def test_layernorm():
    x, g, b = rng.normal(size=(5, 6)), rng.normal(size=6), rng.normal(size=6)
    state = {}

    def forward(x, g, b):
        y, state["cache"] = ops.layernorm_forward(x, g, b, 1e-5)
        return y
    check(forward, lambda dy: ops.layernorm_backward(dy, g, state["cache"]), [x, g, b],
          ["x", "gamma", "beta"])


def test_gelu():
    x = rng.normal(size=(4, 7)) * 2
    state = {}

    def forward(x):
        y, state["cache"] = ops.gelu_forward(x)
        return y
    check(forward, lambda dy: [ops.gelu_backward(dy, state["cache"])], [x], ["x"])


def test_gelu_matches_the_exact_formula():
    x = np.linspace(-5, 5, 101)
    y, _ = ops.gelu_forward(x)
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_sigmoid():
    x = rng.normal(size=(4, 7)) * 3
    check(lambda x: ops.sigmoid_forward(x),
          lambda dy: [ops.sigmoid_backward(dy, ops.sigmoid_forward(x))], [x], ["x"])
    big = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])  # exp(800) would overflow
    with np.errstate(all="raise"):
        s = ops.sigmoid_forward(big)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0],
                               rtol=1e-12, atol=1e-15)


def test_softmax():
    s = rng.normal(size=(3, 5))
    state = {}

    def forward(s):
        state["p"] = ops.softmax_forward(s)
        return state["p"]
    check(forward, lambda dp: [ops.softmax_backward(dp, state["p"])], [s], ["s"])


def test_cross_entropy():
    logits, targets = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    loss, probs = ops.cross_entropy_forward(logits, targets)
    expected = -np.mean(np.log(np.exp(logits) / np.exp(logits).sum(1, keepdims=True))[range(6), targets])
    assert abs(loss - expected) < 1e-12
    d = ops.cross_entropy_backward(probs, targets)
    idx, numeric = numerical_grad(lambda: float(ops.cross_entropy_forward(logits, targets)[0]), logits)
    assert_close(d.reshape(-1)[idx], numeric, "logits")


def test_embedding():
    wte, wpe = rng.normal(size=(7, 4)), rng.normal(size=(6, 4))
    idx = np.array([[1, 1, 3], [6, 1, 0]])  # repeated ids: their gradients must add up
    out = ops.embedding_forward(wte, wpe, idx, wte.dtype)
    w = weights_like(out)
    d_wte, d_wpe = ops.embedding_backward(w, idx, 7)
    for name, x, g in [("wte", wte, d_wte), ("wpe", wpe[:3], d_wpe)]:
        idx_n, numeric = numerical_grad(lambda: float((ops.embedding_forward(wte, wpe, idx, wte.dtype) * w).sum()), x)
        assert_close(g.reshape(-1)[idx_n], numeric, name)


@pytest.mark.parametrize("p_drop", [0.0, 0.3])
def test_causal_attention(p_drop):
    backend = Backend("cpu", "fp64")
    q, k, v = (rng.normal(size=(2, 3, 5, 4)) for _ in range(3))
    state = {}

    def forward(q, k, v):  # the same dropout mask on every call: reseed the generator
        rt = Runtime(backend, rng=backend.rng(7), p_drop=p_drop)
        y, state["cache"] = sdpa_forward(q, k, v, 0.5, rt)
        return y
    check(forward, lambda dy: sdpa_backward(dy, state["cache"]), [q, k, v], ["q", "k", "v"])


def test_dropout_mask_rate_and_scale():
    backend = Backend("cpu", "fp32")
    mask = backend.dropout_mask(backend.rng(0), (1000, 100), 0.1)
    assert mask.dtype == np.float32
    assert abs((mask == 0).mean() - 0.1) < 0.005
    np.testing.assert_allclose(np.unique(mask), [0.0, 1 / 0.9], rtol=1e-6)


def test_row_sum_and_row_dot_are_the_plain_reductions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 5, 7)), rng.normal(size=(2, 3, 5, 7))
    np.testing.assert_allclose(ops.row_sum(a), a.sum(axis=-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(ops.row_dot(a, b), (a * b).sum(axis=-1, keepdims=True), rtol=1e-12)
