"""Causal scaled dot-product attention over heads (Vaswani et al. 2017), the core of the
variants that compare queries with keys (mha, moh, swh, gqa):

    y = softmax(q k^T * scale + M) v,    M[i, j] = 0 if j <= offset + i, else -inf

q (B, h, T, d), k and v (B, h, T_k, d) -> y (B, h, T, d); the softmax runs over the keys.
Query i sits at absolute position offset + i (offset > 0 when new positions continue a KV
cache) and sees keys 0 .. offset + i: the mask M hides the future. The variants pass
scale = 1 / (sqrt(d) * r_temp). While training, dropout drops attention weights before
they meet v.

The definition is the three functions of the first section. The second section only
makes it fast, and changes no result beyond rounding:
  - chunks: the (B, h, T, T_k) scores are the model's largest arrays, so the batch is cut
    into chunks whose scores fit in a core's cache, run on all cores (Backend.map);
  - the shared shift: the softmax subtracts each head's largest score, not each row's.
On a GPU neither applies: the batch runs as one chunk, and the softmax subtracts each
row's own maximum (the shared shift's underflow check would cost a wait for the device).
"""
import functools
from typing import NamedTuple

from ..backend import array_module
from ..ops import dropout_forward, row_sum, softmax_backward, softmax_forward


# ---- the definition -------------------------------------------------------------------------
class SdpaCache(NamedTuple):
    backend: object      # whose map runs the chunks
    chunks: list         # slices of the batch axis
    chunk_caches: list   # one ChunkCache per chunk
    q_shape: tuple       # (B, h, T, d)
    k_shape: tuple       # (B, h, T_k, d)


def sdpa_forward(q, k, v, scale, rt, offset=0):
    """softmax(q k^T * scale + causal mask) v -> y (B, h, T, d), cache"""
    xp = array_module(q)
    B, h, T, d = q.shape
    T_k = k.shape[2]
    mask = rt.dropout_mask((B, h, T, T_k))  # drawn whole: the same stream however it is cut
    on_cpu = rt.backend.device == "cpu"
    chunks = batch_chunks(B, h * T * T_k * q.itemsize, rt.backend.n_cores) if on_cpu else [
        slice(0, B)]
    if len(chunks) == 1:  # generation, or a GPU: one chunk, no threads
        y, chunk_cache = _forward_chunk(q, k, v, scale, offset, mask, shared_shift=on_cpu)
        if rt.keep_attention:
            rt.attention.append(chunk_cache.att.copy())
        return y, SdpaCache(rt.backend, chunks, [chunk_cache], (B, h, T, d), (B, h, T_k, d))
    results = rt.backend.map(
        lambda c: _forward_chunk(q[c], k[c], v[c], scale, offset, None if mask is None else mask[c]),
        chunks)
    y = xp.concatenate([r[0] for r in results])
    if rt.keep_attention:
        rt.attention.append(xp.concatenate([r[1].att for r in results]))
    return y, SdpaCache(rt.backend, chunks, [r[1] for r in results], (B, h, T, d), (B, h, T_k, d))


def sdpa_backward(dy, cache):
    """dy (B, h, T, d) -> dq, dk, dv (the shapes of q, k, v)"""
    xp = array_module(dy)
    dq, dk, dv = (xp.empty(cache.q_shape, dy.dtype), xp.empty(cache.k_shape, dy.dtype),
                  xp.empty(cache.k_shape, dy.dtype))

    def run(i):
        c = cache.chunks[i]
        dq[c], dk[c], dv[c] = _backward_chunk(dy[c], cache.chunk_caches[i])

    cache.backend.map(run, range(len(cache.chunks)))
    return dq, dk, dv


def sdpa_step(q, keys, values, scale, rt):
    """One new position (generation), on vectors: queries q (K, g, d) and the cached keys
    and values (K, T_k, d), the new position's last (kv_cache.append_position) -> y (K, g, d).

    K key/value heads, each shared by g query heads (g = 1 in mha; gqa groups them). Every
    cached key lies in the queries' past, so no mask is needed.
    """
    s = (q * scale) @ keys.swapaxes(1, 2)                       # (K, g, T_k)
    att = softmax_forward(s, out=s)
    if rt.keep_attention:
        rt.attention.append(att.reshape(1, -1, 1, keys.shape[1]))  # (1, h, 1, T_k)
    return att @ values                                         # (K, g, T_k) @ (K, T_k, d)


# ---- for speed: chunks of the batch, the shared shift -----------------------------------------
CHUNK_BYTES = 1 << 20  # scores per chunk: about one core's L2 cache
# A row whose probabilities sum below this after the shared shift has lost precision
# to underflow (its best score lies ~46 below its head's best): such scores get the
# exact row-wise softmax instead.
UNDERFLOW_SUM = 1e-20


class ChunkCache(NamedTuple):
    qs: object     # (b, h, T, d) q * scale
    k: object      # (b, h, T_k, d)
    v: object      # (b, h, T_k, d)
    att: object    # (b, h, T, T_k) attention weights
    att_d: object  # (b, h, T, T_k) after dropout (att itself without)
    mask: object   # dropout mask (b, h, T, T_k) or None
    scale: float


def batch_chunks(B, bytes_per_item, n_cores):
    """Slices of the batch axis: chunks of about CHUNK_BYTES of scores, one per core at least."""
    if B == 1:  # one sequence, as in generation
        return [slice(0, 1)]
    n = min(B, max(n_cores, -(-B * bytes_per_item // CHUNK_BYTES)))
    edges = [B * i // n for i in range(n + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _forward_chunk(q, k, v, scale, offset, mask, shared_shift=True):
    """One chunk of the batch: (b, h, T, d) each -> y (b, h, T, d), ChunkCache."""
    xp = array_module(q)
    qs = q * scale                                              # (b, h, T, d)
    kt = k.swapaxes(-1, -2)                                     # (b, h, d, T_k)
    att = causal_softmax(qs @ kt, offset) if shared_shift else None   # (b, h, T, T_k)
    if att is None:  # rare on the CPU, always on a GPU: exact row-wise softmax
        s = qs @ kt
        s += causal_bias(s.shape[2], s.shape[3], offset, xp, s.dtype)
        att = softmax_forward(s, out=s)
    att_d = dropout_forward(att, mask)
    return att_d @ v, ChunkCache(qs, k, v, att, att_d, mask, scale)


def _backward_chunk(dy, cache):
    """dy (b, h, T, d) -> dq, dk, dv for one chunk."""
    c = cache
    dv = c.att_d.swapaxes(-1, -2) @ dy                          # (b, h, T_k, d)
    datt = dy @ c.v.swapaxes(-1, -2)                            # (b, h, T, T_k)
    if c.mask is not None:
        datt *= c.mask                                          # dropout's backward
    ds = softmax_backward(datt, c.att, out=datt)                # (b, h, T, T_k)
    dq = ds @ c.k
    dq *= c.scale                                               # (b, h, T, d)
    dk = ds.swapaxes(-1, -2) @ c.qs                             # (b, h, T_k, d)
    return dq, dk, dv


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
    sums = row_sum(s)                                           # (B, h, T, 1)
    if T > 1 and float(sums.min()) < UNDERFLOW_SUM:  # one row: its own max was subtracted
        return None
    s /= sums
    return s
