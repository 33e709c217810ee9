"""One residual sub-layer of a transformer block, pre- or post-norm, written once.

A block is two sub-layers, attention then the network (f = attn or net, each with its
own LayerNorm, ln1 and ln2):
    pre-norm  (c_sequence "pre", GPT-2):                x + drop(f(ln(x)))
    post-norm (c_sequence "post", Vaswani et al. 2017): ln(x + drop(f(x)))

Each order has three functions, collected in SUBLAYERS[c_sequence]:
    forward(variant, p, ln, x, cfg, rt, state) -> x (B, T, C), SublayerCache
        variant: an attention or network module; p its parameters, ln {"weight", "bias"}
    backward(variant, p, ln, dx, cache) -> dx (B, T, C), the variant's grads, d ln.weight, d ln.bias
    step(f_step, p, ln, x, cfg, rt, state) -> x (C,)
        one position in generation, on vectors; f_step is the variant's one-position function
"""
from typing import Callable, NamedTuple

from .ops import (dropout_backward, dropout_forward, layernorm_backward, layernorm_forward,
                  layernorm_vector)


class SublayerCache(NamedTuple):
    ln: tuple      # layernorm_forward's cache
    f: object      # the variant's cache
    mask: object   # the dropout mask of f's output, or None


# ---- pre-norm: x + drop(f(ln(x))) -----------------------------------------------------------
def pre_forward(variant, p, ln, x, cfg, rt, state):
    B, T, C = x.shape
    h, ln_cache = layernorm_forward(x.reshape(B * T, C), ln["weight"], ln["bias"],
                                    cfg.r_ln_eps)                                 # (N, C)
    y, f_cache = variant.forward(p, h.reshape(B, T, C), cfg, rt, state)           # (B, T, C)
    mask = rt.dropout_mask(y.shape)
    return x + dropout_forward(y, mask), SublayerCache(ln_cache, f_cache, mask)


def pre_backward(variant, p, ln, dx, cache):
    B, T, C = dx.shape
    dy = dropout_backward(dx, cache.mask)                                         # (B, T, C)
    dh, grads = variant.backward(p, dy, cache.f)                                  # (B, T, C)
    dh, d_weight, d_bias = layernorm_backward(dh.reshape(B * T, C), ln["weight"], cache.ln)
    return dx + dh.reshape(B, T, C), grads, d_weight, d_bias


def pre_step(f_step, p, ln, x, cfg, rt, state):
    h = layernorm_vector(x, ln["weight"], ln["bias"], cfg.r_ln_eps)               # (C,)
    return x + f_step(p, h, cfg, rt, state)


# ---- post-norm: ln(x + drop(f(x))) ----------------------------------------------------------
def post_forward(variant, p, ln, x, cfg, rt, state):
    B, T, C = x.shape
    y, f_cache = variant.forward(p, x, cfg, rt, state)                            # (B, T, C)
    mask = rt.dropout_mask(y.shape)
    r = x + dropout_forward(y, mask)                                              # (B, T, C)
    out, ln_cache = layernorm_forward(r.reshape(B * T, C), ln["weight"], ln["bias"],
                                      cfg.r_ln_eps)                               # (N, C)
    return out.reshape(B, T, C), SublayerCache(ln_cache, f_cache, mask)


def post_backward(variant, p, ln, dx, cache):
    B, T, C = dx.shape
    dr, d_weight, d_bias = layernorm_backward(dx.reshape(B * T, C), ln["weight"], cache.ln)
    dr = dr.reshape(B, T, C)                                      # d (x + drop(f(x)))
    dh, grads = variant.backward(p, dropout_backward(dr, cache.mask), cache.f)    # (B, T, C)
    return dr + dh, grads, d_weight, d_bias


def post_step(f_step, p, ln, x, cfg, rt, state):
    return layernorm_vector(x + f_step(p, x, cfg, rt, state), ln["weight"], ln["bias"],
                            cfg.r_ln_eps)


class Sublayer(NamedTuple):
    forward: Callable
    backward: Callable
    step: Callable


SUBLAYERS = {
    "pre": Sublayer(pre_forward, pre_backward, pre_step),
    "post": Sublayer(post_forward, post_backward, post_step),
}
