"""The engine's operations, each a forward/backward pair.

A forward returns its output and what its backward needs (`cache`); a backward takes
the gradient of the loss with respect to the output and returns the gradients with
respect to the inputs and parameters. No state is kept anywhere else.

Shapes: B batch, T time (tokens), C channels (n_emb), N = B*T rows, V vocabulary.
Matrices are multiplied as 2-D arrays ((N, C) @ (C, D)): NumPy hands those to BLAS
on every core; 3-D `dot`s and broadcasting products would not.
"""
import functools
import math

from .backend import array_module, like

GELU_C = math.sqrt(2.0 / math.pi)  # tanh approximation of GELU (GPT-2's)


# ---- reductions as matrix-vector products (BLAS: faster than .mean/.sum over an axis) ----
@functools.lru_cache(maxsize=64)
def _constant(xp, shape, value, dtype):
    """A cached constant array (never modify it)."""
    return xp.full(shape, value, dtype=dtype)


def row_mean(x):
    """(N, C) -> (N, 1): the mean of each row."""
    C = x.shape[1]
    return x @ _constant(array_module(x), (C, 1), 1.0 / C, x.dtype)


def row_sum(x):
    """(..., K) -> (..., 1): the sum of each row of the last axis."""
    K = x.shape[-1]
    return x @ _constant(array_module(x), (K, 1), 1.0, x.dtype)


def row_dot(a, b):
    """(..., K), (..., K) -> (..., 1): each row's dot product, as a batch of (1, K) @ (K, 1)
    products (no temporary a * b of the whole size)."""
    return (a[..., None, :] @ b[..., :, None])[..., 0]


def col_sum(x):
    """(N, D) -> (D,): the sum of each column."""
    return _constant(array_module(x), x.shape[0], 1.0, x.dtype) @ x


# ---- linear: y = x @ W + b -------------------------------------------------------------
WIDEN_COLUMNS = 4096  # float16 weights are widened this many output columns at a time


def linear_forward(x, w, b=None):
    """(N, D_in) @ (D_in, D_out) + (D_out,) -> (N, D_out), in x's float type (float16
    weights widened a block of columns at a time: no float32 copy of a whole weight)"""
    if w.dtype == x.dtype:
        y = x @ w
    else:  # float16 weights on the CPU (backend.like)
        y = array_module(x).empty(x.shape[:-1] + w.shape[-1:], x.dtype)
        for a in range(0, w.shape[-1], WIDEN_COLUMNS):
            y[..., a:a + WIDEN_COLUMNS] = x @ like(w[..., a:a + WIDEN_COLUMNS], x)
    if b is not None:
        y += b
    return y


def linear_backward(dy, x, w, with_bias=True, dw_out=None):
    """dy (N, D_out) -> dx (N, D_in), dW (D_in, D_out) (into `dw_out` when given),
    db (D_out,) or None"""
    dx = dy @ w.T
    dw = array_module(dy).matmul(x.T, dy, out=dw_out)
    db = col_sum(dy) if with_bias else None
    return dx, dw, db


# ---- embeddings -------------------------------------------------------------------------
def embedding_forward(wte, wpe, idx, dtype):
    """token ids (B, T) -> wte[idx] + wpe[:T]  (B, T, C), in `dtype` (the products' float
    type: float32 where float16 weights are multiplied in float32)"""
    return wte[idx].astype(dtype, copy=False) + wpe[:idx.shape[1]].astype(dtype, copy=False)


ONE_HOT_MAX_VOCAB = 1024


def embedding_backward(dx, idx, vocab_size, out=None):
    """dx (B, T, C) -> d_wte (V, C), d_wpe rows (T, C)

    Rows of repeated tokens add up: a scatter-add, done as one_hot(idx).T @ dx, a BLAS
    matmul, for character-sized vocabularies; larger ones use add.at to avoid the
    (N, V) one-hot matrix. With `out` (V, C) the rows are added into it (tied
    embeddings: the output layer's gradient of wte is already there) and it is d_wte.
    """
    xp = array_module(dx)
    B, T, C = dx.shape
    flat_idx, dx2 = idx.reshape(-1), dx.reshape(B * T, C)
    if vocab_size <= ONE_HOT_MAX_VOCAB:
        one_hot = xp.zeros((B * T, vocab_size), dtype=dx.dtype)
        one_hot[xp.arange(B * T), flat_idx] = 1.0
        d_wte = one_hot.T @ dx2
        if out is not None:
            out += d_wte
            d_wte = out
    else:
        d_wte = xp.zeros((vocab_size, C), dtype=dx.dtype) if out is None else out
        xp.add.at(d_wte, flat_idx, dx2)
    d_wpe = dx.sum(axis=0)
    return d_wte, d_wpe


# ---- layer normalisation (over the last axis) -----------------------------------------------
def layernorm_forward(x, gamma, beta, eps):
    """(N, C) -> (N, C); cache = (x_hat, 1/std)"""
    xhat = x - row_mean(x)
    rstd = (row_mean(xhat * xhat) + eps) ** -0.5
    xhat *= rstd
    y = xhat * gamma
    y += beta
    return y, (xhat, rstd)


def layernorm_backward(dy, gamma, cache):
    """dy (N, C) -> dx (N, C), d_gamma (C,), d_beta (C,)"""
    xhat, rstd = cache
    d_gamma = col_sum(dy * xhat)
    d_beta = col_sum(dy)
    dxhat = dy * gamma
    # dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    proj = row_mean(dxhat * xhat)
    dx = dxhat
    dx -= row_mean(dxhat)
    dx -= xhat * proj
    dx *= rstd
    return dx, d_gamma, d_beta


def layernorm_vector(x, gamma, beta, eps):
    """One vector (C,) -> (C,), no backward cache: layernorm_forward for a single position
    (generation). Vector products here cost a fraction of the (1, C) - (1, 1) broadcasts."""
    C = x.shape[0]
    xhat = x - x.sum() / C
    xhat *= (xhat.dot(xhat * (1.0 / C)) + eps) ** -0.5  # divide first: no fp16 overflow
    xhat *= gamma
    xhat += beta
    return xhat


# ---- GELU (tanh approximation) -----------------------------------------------------------
def gelu_forward(x):
    """y = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))); cache = (x, tanh)"""
    xp = array_module(x)
    t = x * x
    t *= GELU_C * 0.044715
    t += GELU_C
    t *= x                        # sqrt(2/pi) * (x + 0.044715 x^3)
    xp.tanh(t, out=t)
    y = t + 1.0
    y *= x
    y *= 0.5
    return y, (x, t)


def gelu_backward(dy, cache):
    """dy/dx = (1 + t)/2 + x/2 * (1 - t^2) * sqrt(2/pi) * (1 + 3*0.044715 x^2)"""
    x, t = cache
    inner = x * x
    inner *= GELU_C * 0.5 * 3 * 0.044715
    inner += GELU_C * 0.5
    inner *= x                    # x/2 * sqrt(2/pi) * (1 + 3*0.044715 x^2)
    sech2 = t * t
    sech2 -= 1.0
    inner *= sech2                # -(...) * (1 - t^2)
    dx = t + 1.0
    dx *= 0.5
    dx -= inner
    dx *= dy
    return dx


# ---- sigmoid ------------------------------------------------------------------------------
def sigmoid_forward(x):
    """s = 1 / (1 + exp(-x)), computed as (1 + tanh(x / 2)) / 2, which never overflows.
    Its backward needs only s, so s is its own cache."""
    s = array_module(x).tanh(x * 0.5)
    s += 1.0
    s *= 0.5
    return s


def sigmoid_backward(ds, s):
    """ds -> dx = ds * s * (1 - s)"""
    return ds * s * (1.0 - s)


# ---- dropout ------------------------------------------------------------------------------
def dropout_forward(x, mask):
    """x * mask, where the mask (from Backend.dropout_mask) holds 0 or 1/(1-p)."""
    return x if mask is None else x * mask


def dropout_backward(dy, mask):
    return dy if mask is None else dy * mask


# ---- softmax over the last axis -------------------------------------------------------------
def softmax_forward(s, out=None):
    """Softmax of the last axis. Any -inf entries (masked) get probability 0."""
    xp = array_module(s)
    p = xp.subtract(s, s.max(axis=-1, keepdims=True), out=out)
    xp.exp(p, out=p)
    p /= p.sum(axis=-1, keepdims=True)
    return p


def softmax_backward(dp, p, out=None):
    """ds = p * (dp - sum(dp * p)); out=dp overwrites dp (fewer passes over memory)."""
    xp = array_module(p)
    row = row_dot(dp, p)                               # (..., 1): sum(dp * p) of each row
    ds = xp.subtract(dp, row, out=out)
    ds *= p
    return ds


# ---- cross-entropy, fused with the softmax of the logits -------------------------------------------
def cross_entropy_forward(logits, targets):
    """Mean -log softmax(logits)[target]. logits (N, V), targets (N,) -> loss, probs"""
    xp = array_module(logits)
    probs = softmax_forward(logits, out=xp.empty_like(logits))
    rows = xp.arange(len(targets))
    picked = probs[rows, targets]
    loss = -xp.log(xp.maximum(picked, xp.finfo(probs.dtype).tiny)).mean()
    return loss, probs


def cross_entropy_backward(probs, targets):
    """d loss / d logits = (softmax - one_hot(target)) / N  (overwrites probs)"""
    xp = array_module(probs)
    N = len(targets)
    probs[xp.arange(N), targets] -= 1.0
    probs *= 1.0 / N
    return probs
