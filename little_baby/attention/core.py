"""Scaled dot-product attention over heads, causal, shared by the variants that
compare queries with keys (mha, and others built on it).

Shapes: q (B, h, T, d), k and v (B, h, T_k, d); query i sits at absolute position
offset + i and sees keys 0 .. offset + i.
"""
from ..backend import array_module
from ..ops import dropout_backward, dropout_forward, softmax_backward, softmax_forward


def causal_bias(T, T_k, offset, xp, dtype):
    """(T, T_k) additive mask: 0 where key j <= offset + i, -inf where it is in the future."""
    return xp.triu(xp.full((T, T_k), -xp.inf, dtype=dtype), k=offset + 1)


def sdpa_forward(q, k, v, scale, rt, offset=0):
    """softmax(q k^T * scale + causal) v -> (B, h, T, d), cache"""
    xp = array_module(q)
    T, T_k = q.shape[2], k.shape[2]
    qs = q * scale                                              # (B, h, T, d)
    s = qs @ k.swapaxes(-1, -2)                                 # (B, h, T, T_k)
    if T_k > offset + 1:  # some key lies in some query's future
        s += causal_bias(T, T_k, offset, xp, s.dtype)
    att = softmax_forward(s, out=s)                             # (B, h, T, T_k)
    if rt.keep_attention:
        rt.attention.append(att.copy())
    mask = rt.dropout_mask(att.shape)
    att_d = dropout_forward(att, mask)
    y = att_d @ v                                               # (B, h, T, d)
    return y, (qs, k, v, att, att_d, mask, scale)


def sdpa_backward(dy, cache):
    """dy (B, h, T, d) -> dq, dk, dv (shapes of q, k, v)"""
    qs, k, v, att, att_d, mask, scale = cache
    dv = att_d.swapaxes(-1, -2) @ dy                            # (B, h, T_k, d)
    datt = dropout_backward(dy @ v.swapaxes(-1, -2), mask)      # (B, h, T, T_k)
    ds = softmax_backward(datt, att)                            # (B, h, T, T_k)
    dq = ds @ k
    dq *= scale                                                 # (B, h, T, d)
    dk = ds.swapaxes(-1, -2) @ qs                               # (B, h, T_k, d)
    return dq, dk, dv
