"""`lor`: low-rank network — a full C x C projection plus a low-rank pair with a scale,
y = x W + b + (alpha / r) * (x A) B, no expansion and no non-linearity.

LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") as the original
project's model card describes it: a full projection with bias, two bias-free low-rank
projections of rank r = n_rank, and the scale alpha / r with alpha = 1 (the original
project's value). B starts at zero, as in the paper, so the pair starts as no change. Here
every part trains
(LoRA freezes W when finetuning a pretrained model; from scratch there is nothing to
freeze).
Parameters: C*C + C + 2*C*r, with C = n_emb, r = n_rank.
"""
from ..ops import linear_backward, linear_forward

ALPHA = 1.0


def init(cfg, rt):
    C, r = cfg.n_emb, cfg.n_rank
    xp, dt = rt.xp, rt.backend.dtype
    return {
        "proj.weight": rt.normal((C, C), 0.02 / (2 * cfg.n_layers) ** 0.5),
        "proj.bias": xp.zeros(C, dtype=dt),
        "lora_a.weight": rt.normal((C, r), 0.02),
        "lora_b.weight": xp.zeros((r, C), dtype=dt),
    }


def n_params(cfg):
    C, r = cfg.n_emb, cfg.n_rank
    return C * C + C + 2 * C * r


def new_state(cfg, batch, rt):
    return None


def forward(p, x, cfg, rt, state=None):
    B, T, C = x.shape
    scale = ALPHA / cfg.n_rank
    x2 = x.reshape(B * T, C)                                             # (N, C)
    a = linear_forward(x2, p["lora_a.weight"])                           # (N, r)
    y = linear_forward(x2, p["proj.weight"], p["proj.bias"])             # (N, C)
    y += linear_forward(a, p["lora_b.weight"]) * scale
    return y.reshape(B, T, C), (x2, a, scale)


def backward(p, dy, cache):
    x2, a, scale = cache
    B, T, C = dy.shape
    dy2 = dy.reshape(B * T, C)
    dx, dw, db = linear_backward(dy2, x2, p["proj.weight"])
    da, dw_b, _ = linear_backward(dy2 * scale, a, p["lora_b.weight"], with_bias=False)
    dx_a, dw_a, _ = linear_backward(da, x2, p["lora_a.weight"], with_bias=False)
    dx += dx_a
    grads = {"proj.weight": dw, "proj.bias": db, "lora_a.weight": dw_a, "lora_b.weight": dw_b}
    return dx.reshape(B, T, C), grads
