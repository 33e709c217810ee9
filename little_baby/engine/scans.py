"""Two causal scans over time, each a forward/backward pair, shared by attention and
network variants:

    causal average (AFT; aft, nft):  y_t = sum_{j<=t} exp(k_j) v_j / sum_{j<=t} exp(k_j)
    gated scan (GLA; gla):           s_t = a_t * s_{t-1} + u_t

Both run per channel and cost O(T); in generation each new position continues them from
a state of O(1) size (the running sums, the last s).

Shapes: B batch, T time, D channels.
"""
from typing import NamedTuple

from .backend import array_module

EXP_CLIP = 20.0  # exp(k) is taken of k clipped to [-20, 20]: no overflow in float32 sums


# ---- causal exp-weighted average (AFT: Zhai et al. 2021, "An Attention Free Transformer") ----
class AverageCache(NamedTuple):
    k: object    # (B, T, D) the keys as given (the clip's backward needs them)
    v: object    # (B, T, D)
    e: object    # (B, T, D) exp(clip(k))
    den: object  # (B, T, D) running sums of e
    y: object    # (B, T, D) the averages


def new_average_state(batch, width, rt):
    """Running sums of exp(k)*v and exp(k) over the positions seen so far, (B, D) each."""
    xp, dt = rt.xp, rt.backend.dtype
    return {"num": xp.zeros((batch, width), dtype=dt), "den": xp.zeros((batch, width), dtype=dt)}


def causal_average_forward(k, v, state=None):
    """k, v (B, T, D) -> y (B, T, D), cache. With `state` the sums continue it (updated)."""
    xp = array_module(k)
    e = xp.exp(xp.clip(k, -EXP_CLIP, EXP_CLIP))                     # (B, T, D)
    num = xp.cumsum(e * v, axis=1)                                  # (B, T, D)
    den = xp.cumsum(e, axis=1)                                      # (B, T, D)
    if state is not None:
        num += state["num"][:, None]
        den += state["den"][:, None]
        state["num"], state["den"] = num[:, -1], den[:, -1]
    y = num / den                                                   # (B, T, D)
    return y, AverageCache(k, v, e, den, y)


def _reverse_cumsum(g):
    """sum over s >= t of g_s along axis 1: the backward of a cumulative sum."""
    return array_module(g).cumsum(g[:, ::-1], axis=1)[:, ::-1]


def causal_average_backward(dy, cache):
    """dy (B, T, D) -> dk, dv (B, T, D)"""
    c = cache
    dnum = dy / c.den                                               # d y / d num = 1 / den
    dev = _reverse_cumsum(dnum)                                     # d (e*v)
    de = _reverse_cumsum(-dnum * c.y)                               # d y / d den = -y / den
    de += dev * c.v
    dv = dev * c.e
    dk = de * c.e
    dk *= (c.k > -EXP_CLIP) & (c.k < EXP_CLIP)                      # clip passes no gradient
    return dk, dv


# ---- gated linear scan (GLA: Yang et al. 2024, "Gated Linear Attention Transformers") ------
def gated_scan_forward(a, u, s0=None):
    """s_t = a_t * s_{t-1} + u_t, from s_{-1} = s0 (zeros when None).
    a, u (B, T, D) -> all states s (B, T, D), computed one step at a time."""
    s = array_module(u).empty_like(u)
    prev = s0
    for t in range(u.shape[1]):
        s[:, t] = u[:, t] if prev is None else a[:, t] * prev + u[:, t]
        prev = s[:, t]
    return s


def gated_scan_backward(ds, a, s):
    """ds (B, T, D) -> da, du (B, T, D); the scan started from zeros."""
    xp = array_module(ds)
    du = xp.empty_like(ds)
    da = xp.zeros_like(ds)                                          # a_0 meets s_{-1} = 0
    carry = None
    for t in reversed(range(ds.shape[1])):
        du[:, t] = ds[:, t] if carry is None else ds[:, t] + carry  # total d s_t
        if t > 0:
            da[:, t] = du[:, t] * s[:, t - 1]
        carry = a[:, t] * du[:, t]                                  # flows into s_{t-1}
    return da, du
