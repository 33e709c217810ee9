"""The reference model's backward pass: the chain rule written out on reference.py's
forward, one op a function, each beside what it differentiates, nothing for speed.

It is the oracle for the engine's backward at real sizes, where finite differences
cannot run: llm.c's test_gpt2.c checks every gradient tensor of its C code against
PyTorch's autograd; here the engine's fast backward (chunks, buffers, threads) is checked
against these plain functions, which share no code with ops.py or the variants. Each
function recomputes the forward values it needs from its inputs (slow, and obviously
right). One sequence: T tokens, C = n_emb, S = head_size, h heads of d = S / h, H the
network's hidden width, V the vocabulary. Evaluation's maths: no dropout.
"""
import math

from .backend import array_module
from .reference import (block, causal_self_attention, gelu, head, layer_norm, linear, mha,
                        mlp, softmax, under)

GELU_C = math.sqrt(2 / math.pi)


def linear_backward(dy, x, w):
    """y = x w + b: dy (T, D_out) -> dx (T, D_in), dw (D_in, D_out), db (D_out,)."""
    return dy @ w.T, x.T @ dy, dy.sum(axis=0)


def layer_norm_backward(dy, x, g, eps):
    """y = g x_hat + b with x_hat = (x - mean) / sqrt(var + eps), per row:
    dy (T, C) -> dx (T, C), dg (C,), db (C,). With n = C and dx_hat = g dy,
    dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / sqrt(var + eps)."""
    xp = array_module(x)
    std = xp.sqrt(x.var(axis=-1, keepdims=True) + eps)              # (T, 1)
    x_hat = (x - x.mean(axis=-1, keepdims=True)) / std              # (T, C)
    dx_hat = dy * g                                                 # (T, C)
    dx = (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
          - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True)) / std
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)


def gelu_backward(dy, x):
    """GELU(x) = x/2 (1 + tanh(u)), u = c (x + 0.044715 x^3):
    dGELU/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) c (1 + 3 * 0.044715 x^2)."""
    xp = array_module(x)
    t = xp.tanh(GELU_C * (x + 0.044715 * x ** 3))
    return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x))


def softmax_backward(dp, p):
    """p = softmax(s) over the last axis: ds = p (dp - sum(dp p))."""
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


def causal_self_attention_backward(dy, q, k, v, r_temp):
    """y = softmax(q k^T / (sqrt(d) r_temp) + mask) v: dy (h, T, d) -> dq, dk, dv (h, T, d).
    The mask's -inf entries have p = 0, so softmax_backward gives them no gradient."""
    xp = array_module(q)
    h, T, d = q.shape
    scale = 1 / (math.sqrt(d) * r_temp)
    mask = xp.where(xp.tri(T, dtype=bool), 0.0, -xp.inf)            # (T, T)
    p = softmax(q @ k.swapaxes(-1, -2) * scale + mask)              # (h, T, T)
    dv = p.swapaxes(-1, -2) @ dy                                    # (h, T, d)
    ds = softmax_backward(dy @ v.swapaxes(-1, -2), p) * scale       # (h, T, T)
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv


def mha_backward(dy, x, p, n_heads, r_temp):
    """reference.mha: dy (T, C) -> dx (T, C) and its weights' gradients (their keys)."""
    xp = array_module(x)
    T, C = x.shape
    qkv = linear(x, p["qkv.weight"], p["qkv.bias"])                 # (T, 3 S)
    heads = [t.reshape(T, n_heads, -1).swapaxes(0, 1) for t in xp.split(qkv, 3, axis=-1)]
    y = causal_self_attention(*heads, r_temp).swapaxes(0, 1).reshape(T, -1)  # (T, S)
    dy_heads, dw_proj, db_proj = linear_backward(dy, y, p["proj.weight"])     # (T, S)
    dy_heads = dy_heads.reshape(T, n_heads, -1).swapaxes(0, 1)      # (h, T, d)
    dq, dk, dv = causal_self_attention_backward(dy_heads, *heads, r_temp)
    dqkv = xp.concatenate([t.swapaxes(0, 1).reshape(T, -1) for t in (dq, dk, dv)], axis=-1)
    dx, dw_qkv, db_qkv = linear_backward(dqkv, x, p["qkv.weight"])  # (T, C)
    return dx, {"qkv.weight": dw_qkv, "qkv.bias": db_qkv,
                "proj.weight": dw_proj, "proj.bias": db_proj}


def mlp_backward(dy, x, p):
    """reference.mlp: dy (T, C) -> dx (T, C) and its weights' gradients."""
    up = linear(x, p["up.weight"], p["up.bias"])                    # (T, H)
    dh, dw_down, db_down = linear_backward(dy, gelu(up), p["down.weight"])   # (T, H)
    dx, dw_up, db_up = linear_backward(gelu_backward(dh, up), x, p["up.weight"])
    return dx, {"up.weight": dw_up, "up.bias": db_up,
                "down.weight": dw_down, "down.bias": db_down}


def block_backward(dy, x, p, cfg):
    """reference.block: dy (T, C) -> dx (T, C) and the block's gradients (its keys)."""
    attn, net, h, temp = under(p, "attn."), under(p, "net."), cfg.n_heads, cfg.r_temp
    eps = cfg.r_ln_eps
    ln1 = (p["ln1.weight"], p["ln1.bias"], eps)
    ln2 = (p["ln2.weight"], p["ln2.bias"], eps)
    grads = {}
    if cfg.c_sequence == "pre":  # x1 = x + mha(ln1(x)); y = x1 + mlp(ln2(x1))
        a = layer_norm(x, *ln1)                                     # (T, C)
        x1 = x + mha(a, attn, h, temp)                              # (T, C)
        db, g = mlp_backward(dy, layer_norm(x1, *ln2), net)         # (T, C)
        grads.update(_prefixed("net.", g))
        dx1_ln, grads["ln2.weight"], grads["ln2.bias"] = layer_norm_backward(db, x1, ln2[0], eps)
        dx1 = dy + dx1_ln                                           # residual + sub-layer
        da, g = mha_backward(dx1, a, attn, h, temp)                 # (T, C)
        grads.update(_prefixed("attn.", g))
        dx_ln, grads["ln1.weight"], grads["ln1.bias"] = layer_norm_backward(da, x, ln1[0], eps)
        return dx1 + dx_ln, grads
    # post: x1 = ln1(x + mha(x)); y = ln2(x1 + mlp(x1))
    x1 = layer_norm(x + mha(x, attn, h, temp), *ln1)                # (T, C)
    dz2, grads["ln2.weight"], grads["ln2.bias"] = layer_norm_backward(
        dy, x1 + mlp(x1, net), ln2[0], eps)                         # (T, C)
    dx1_net, g = mlp_backward(dz2, x1, net)
    grads.update(_prefixed("net.", g))
    dz1, grads["ln1.weight"], grads["ln1.bias"] = layer_norm_backward(
        dz2 + dx1_net, x + mha(x, attn, h, temp), ln1[0], eps)      # (T, C)
    dx_attn, g = mha_backward(dz1, x, attn, h, temp)
    grads.update(_prefixed("attn.", g))
    return dz1 + dx_attn, grads


def _prefixed(prefix, grads):
    return {prefix + k: v for k, v in grads.items()}


def cross_entropy_backward(logits, targets):
    """Mean cross-entropy of (T, V) logits at (T,) targets, and d loss / d logits:
    (softmax - one_hot) / T."""
    xp = array_module(logits)
    T = len(targets)
    probs = softmax(logits)                                         # (T, V)
    loss = -xp.log(probs[xp.arange(T), targets]).mean()
    dlogits = probs.copy()
    dlogits[xp.arange(T), targets] -= 1
    return loss, dlogits / T


def gpt_loss_and_grads(ids, targets, params, cfg):
    """reference.gpt and the mean cross-entropy at `targets`, backward: (loss, grads with
    the keys of `params`) for one sequence of T token ids."""
    xp = array_module(params["wte.weight"])
    T = len(ids)
    xs = [params["wte.weight"][ids] + params["wpe.weight"][:T]]      # each block's input (T, C)
    blocks = [under(params, f"blocks.{i}.") for i in range(cfg.n_layers)]
    for p in blocks:
        xs.append(block(xs[-1], p, cfg))
    ln_f = (params["ln_f.weight"], params["ln_f.bias"], cfg.r_ln_eps)
    top = layer_norm(xs[-1], *ln_f)                                 # (T, C)
    logits = head(top, params, cfg)                                 # (T, V)
    loss, dlogits = cross_entropy_backward(logits, targets)
    grads = {}
    if cfg.c_tie:  # logits = top wte^T: dtop = dlogits wte, d wte (its output use) = dlogits^T top
        dtop, wte = dlogits @ params["wte.weight"], dlogits.T @ top
    else:
        dtop, grads["lm_head.weight"], grads["lm_head.bias"] = linear_backward(
            dlogits, top, params["lm_head.weight"])
        wte = xp.zeros_like(params["wte.weight"])
    dx, grads["ln_f.weight"], grads["ln_f.bias"] = layer_norm_backward(
        dtop, xs[-1], ln_f[0], cfg.r_ln_eps)
    for i in reversed(range(cfg.n_layers)):
        dx, g = block_backward(dx, xs[i], blocks[i], cfg)
        grads.update({f"blocks.{i}.{k}": v for k, v in g.items()})
    xp.add.at(wte, ids, dx)            # a row per token, summed (tied: onto the output's use)
    wpe = xp.zeros_like(params["wpe.weight"])
    wpe[:T] = dx
    grads["wte.weight"], grads["wpe.weight"] = wte, wpe
    return loss, grads


def batch_loss_and_grads(x, y, params, cfg):
    """The mean loss and its gradients over a (B, T) batch: the mean of the sequences'."""
    B = len(x)
    total, grads = 0.0, None
    for ids, targets in zip(x, y):
        loss, g = gpt_loss_and_grads(ids, targets, params, cfg)
        total += loss / B
        grads = {k: v / B for k, v in g.items()} if grads is None else {
            k: grads[k] + v / B for k, v in g.items()}
    return total, grads

