"""Scaled dot-product attention over heads, causal, shared by the variants that
compare queries with keys (mha, and others built on it).

Shapes: q (B, h, T, d), k and v (B, h, T_k, d); query i sits at absolute position
offset + i and sees keys 0 .. offset + i.

The (B, h, T, T_k) score arrays are the largest in the model. The batch is cut into
chunks whose scores fit in a core's cache, and the chunks run on all cores
(Backend.map): every pass over the scores then reads cache instead of memory.
"""
import functools

from ..backend import array_module
from ..ops import dropout_forward, softmax_backward, softmax_forward

CHUNK_BYTES = 1 << 20  # scores per chunk: about one core's L2 cache
# A row whose probabilities sum below this after the shared shift has lost precision
# to underflow (its best score lies ~46 below its head's best): such scores get the
# exact row-wise softmax instead.
UNDERFLOW_SUM = 1e-20


@functools.lru_cache(maxsize=32)
def causal_bias(T, T_k, offset, xp, dtype):
    """(T, T_k) additive mask: 0 where key j <= offset + i, -inf where it is in the future.
    Cached, so never modify it: the same few shapes come back every step."""
    return xp.triu(xp.full((T, T_k), -xp.inf, dtype=dtype), k=offset + 1)


def causal_softmax(s, offset):
    """Softmax over the last axis of scores s (B, h, T, T_k), future keys masked, in place.

    Softmax is unchanged by subtracting any constant from a row. Subtracting each head's
    largest visible score (one reduction over a long axis) is ~15x faster in NumPy than
    each row's own maximum (many short reductions), and as safe against overflow. Returns
    None if some row then underflowed (s is spent; use the row-wise softmax).
    """
    xp = array_module(s)
    B, h, T, T_k = s.shape
    if T_k > offset + 1:  # some key lies in some query's future
        s += causal_bias(T, T_k, offset, xp, s.dtype)
    s -= s.reshape(B, h, T * T_k).max(axis=-1)[:, :, None, None]
    xp.exp(s, out=s)
    sums = s.sum(axis=-1, keepdims=True)
    if T > 1 and float(sums.min()) < UNDERFLOW_SUM:  # one row: its own max was subtracted
        return None
    s /= sums
    return s


def batch_chunks(B, bytes_per_item, n_cores):
    """Slices of the batch axis: chunks of about CHUNK_BYTES of scores, one per core at least."""
    if B == 1:  # one sequence, as in generation
        return [slice(0, 1)]
    n = min(B, max(n_cores, -(-B * bytes_per_item // CHUNK_BYTES)))
    edges = [B * i // n for i in range(n + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _forward_chunk(q, k, v, scale, offset, mask):
    """One chunk of the batch: (b, h, T, d) each -> y (b, h, T, d), backward cache."""
    xp = array_module(q)
    qs = q * scale                                              # (b, h, T, d)
    kt = k.swapaxes(-1, -2)                                     # (b, h, d, T_k)
    att = causal_softmax(qs @ kt, offset)                       # (b, h, T, T_k)
    if att is None:  # rare: exact row-wise softmax
        s = qs @ kt
        s += causal_bias(s.shape[2], s.shape[3], offset, xp, s.dtype)
        att = softmax_forward(s, out=s)
    att_d = dropout_forward(att, mask)
    return att_d @ v, (qs, k, v, att, att_d, mask, scale)


def _backward_chunk(dy, cache):
    """dy (b, h, T, d) -> dq, dk, dv for one chunk."""
    qs, k, v, att, att_d, mask, scale = cache
    dv = att_d.swapaxes(-1, -2) @ dy                            # (b, h, T_k, d)
    datt = dy @ v.swapaxes(-1, -2)                              # (b, h, T, T_k)
    if mask is not None:
        datt *= mask                                            # dropout's backward
    ds = softmax_backward(datt, att, out=datt)                  # (b, h, T, T_k)
    dq = ds @ k
    dq *= scale                                                 # (b, h, T, d)
    dk = ds.swapaxes(-1, -2) @ qs                               # (b, h, T_k, d)
    return dq, dk, dv


def sdpa_forward(q, k, v, scale, rt, offset=0):
    """softmax(q k^T * scale + causal) v -> y (B, h, T, d), cache"""
    xp = array_module(q)
    B, h, T, d = q.shape
    T_k = k.shape[2]
    mask = rt.dropout_mask((B, h, T, T_k))  # drawn whole: the same stream however it is cut
    chunks = batch_chunks(B, h * T * T_k * q.itemsize, rt.backend.n_cores)
    if len(chunks) == 1:  # generation: one short chunk, no threads
        y, chunk_cache = _forward_chunk(q, k, v, scale, offset, mask)
        if rt.keep_attention:
            rt.attention.append(chunk_cache[3].copy())
        return y, (rt.backend, chunks, [chunk_cache], (B, h, T, d), (B, h, T_k, d))
    results = rt.backend.map(
        lambda c: _forward_chunk(q[c], k[c], v[c], scale, offset, None if mask is None else mask[c]),
        chunks)
    y = xp.concatenate([r[0] for r in results])
    if rt.keep_attention:
        rt.attention.append(xp.concatenate([r[1][3] for r in results]))
    return y, (rt.backend, chunks, [r[1] for r in results], (B, h, T, d), (B, h, T_k, d))


def sdpa_backward(dy, cache):
    """dy (B, h, T, d) -> dq, dk, dv (the shapes of q, k, v)"""
    backend, chunks, chunk_caches, q_shape, k_shape = cache
    xp = array_module(dy)
    dq, dk, dv = (xp.empty(q_shape, dy.dtype), xp.empty(k_shape, dy.dtype),
                  xp.empty(k_shape, dy.dtype))

    def run(i):
        c = chunks[i]
        dq[c], dk[c], dv[c] = _backward_chunk(dy[c], chunk_caches[i])

    backend.map(run, range(len(chunks)))
    return dq, dk, dv


def sdpa_step(q, k, v, scale, rt, state):
    """One new position (generation): queries q (K, g, d), the new key and value
    k, v (K, d) -> y (K, g, d).

    K key/value heads, each shared by g query heads (g = 1 in mha; gqa groups them).
    The new key and value join the KV cache `state` (batch of one); the queries see every
    cached key, all of which lie in their past, so no mask is needed.
    """
    t = state["t"]
    keys, values = state["k"][0, :, :t + 1], state["v"][0, :, :t + 1]  # (K, t+1, d) views
    keys[:, t], values[:, t] = k, v
    state["t"] = t + 1
    s = (q * scale) @ keys.swapaxes(1, 2)                       # (K, g, t+1)
    att = softmax_forward(s, out=s)
    if rt.keep_attention:
        rt.attention.append(att.reshape(1, -1, 1, t + 1))      # (1, h, 1, t+1)
    return att @ values                                         # (K, g, t+1) @ (K, t+1, d)
