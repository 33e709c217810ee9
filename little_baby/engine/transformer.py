"""The transformer: parameters, forward pass and backward pass.

Parameters live in one flat dict whose keys are the safetensors keys:
    wte.weight (V, C)  wpe.weight (n_ctx, C)
    blocks.{i}.ln1.weight/bias (C,)  blocks.{i}.attn.*  blocks.{i}.ln2.weight/bias  blocks.{i}.net.*
    ln_f.weight/bias (C,)  lm_head.weight (C, V)  lm_head.bias (V,)
With c_tie (tied embeddings, GPT-2's) there is no lm_head: logits = x @ wte.T, no bias,
and wte's gradient is the sum of its two uses (the embedding's rows, the output's).
Each block is  pre:  x = x + drop(attn(ln1(x)));  x = x + drop(net(ln2(x)))
           or  post: x = ln1(x + drop(attn(x)));  x = ln2(x + drop(net(x)))
(block.py: one sub-layer, forward, backward and one-position step), and a final
LayerNorm and a linear head give the logits. reference.py is the same model (mha + mlp)
as plain functions.
"""
from typing import NamedTuple

from ..errors import ContextError, WeightsError
from .attention import ATTENTIONS
from .backend import Backend, array_module
from .block import SUBLAYERS
from .network import NETWORKS
from .ops import (cross_entropy_backward, cross_entropy_forward, dropout_backward,
                  dropout_forward, embedding_backward, embedding_forward, layernorm_backward,
                  layernorm_forward, layernorm_vector, linear_backward, linear_forward)
from .runtime import Runtime


def init_params(cfg, vocab_size, rt):
    """Fresh weights (GPT-2's scheme: N(0, 0.02), residual projections scaled down by
    sqrt(2 * n_layers), biases 0, LayerNorm gains 1). `rt.rng` must be set."""
    xp, dt, C = rt.xp, rt.backend.dtype, cfg.n_emb
    params = {"wte.weight": rt.normal((vocab_size, C), 0.02),
              "wpe.weight": rt.normal((cfg.n_ctx, C), 0.02)}
    attn, net = ATTENTIONS[cfg.c_attention], NETWORKS[cfg.c_network]
    for i in range(cfg.n_layers):
        for ln in ("ln1", "ln2"):
            params[f"blocks.{i}.{ln}.weight"] = xp.ones(C, dtype=dt)
            params[f"blocks.{i}.{ln}.bias"] = xp.zeros(C, dtype=dt)
        params.update({f"blocks.{i}.attn.{k}": v for k, v in attn.init(cfg, rt).items()})
        params.update({f"blocks.{i}.net.{k}": v for k, v in net.init(cfg, rt).items()})
    params["ln_f.weight"] = xp.ones(C, dtype=dt)
    params["ln_f.bias"] = xp.zeros(C, dtype=dt)
    if not cfg.c_tie:  # tied: the output layer is wte.T, stored once
        params["lm_head.weight"] = rt.normal((C, vocab_size), 0.02)
        params["lm_head.bias"] = xp.zeros(vocab_size, dtype=dt)
    return params


class _ShapesOnly(Runtime):
    """A runtime whose 'random' weights are uninitialised: for learning shapes cheaply."""

    def normal(self, shape, std):
        return self.xp.empty(shape, dtype=self.backend.dtype)


def param_shapes(cfg, vocab_size):
    """{key: shape} of a model's parameters, in their order."""
    params = init_params(cfg, vocab_size, _ShapesOnly(Backend("cpu", "fp32")))
    return {k: tuple(v.shape) for k, v in params.items()}


def check_shapes(params, expected):
    """Raise a clear error for a missing, unexpected or wrongly shaped weight."""
    missing = [k for k in expected if k not in params]
    if missing:
        raise WeightsError(f"weights are missing key(s) {missing[:5]}"
                         f"{' ...' if len(missing) > 5 else ''}: they do not match this config.")
    extra = [k for k in params if k not in expected]
    if extra:
        raise WeightsError(f"weights have unexpected key(s) {extra[:5]}: they do not match this config.")
    for k, shape in expected.items():
        if tuple(params[k].shape) != shape:
            raise WeightsError(f"weight {k!r} has shape {tuple(params[k].shape)}, but the config "
                             f"needs {shape}.")


def count_params(cfg, vocab_size):
    """Parameter count from the formulas of the chosen variants."""
    C = cfg.n_emb
    block = 4 * C + ATTENTIONS[cfg.c_attention].n_params(cfg) + NETWORKS[cfg.c_network].n_params(cfg)
    head = 0 if cfg.c_tie else C * vocab_size + vocab_size  # tied: wte is the head
    return vocab_size * C + cfg.n_ctx * C + cfg.n_layers * block + 2 * C + head


def _under(params, prefix):
    """The entries of `params` under `prefix`, with the prefix taken off their keys."""
    n = len(prefix)
    return {k[n:]: v for k, v in params.items() if k.startswith(prefix)}


def one_position(variant):
    """A variant's function for one position, (p, x (C,), cfg, rt, state) -> (C,): its own
    `step` where it has one, else its forward on a (1, 1, C) array."""
    if hasattr(variant, "step"):
        return variant.step

    def step(p, x, cfg, rt, state):
        y, _ = variant.forward(p, x.reshape(1, 1, -1), cfg, rt, state)
        return y.reshape(-1)
    return step


class BlockCache(NamedTuple):
    attn: tuple  # block.SublayerCache of the attention sub-layer
    net: tuple   # ... and of the network sub-layer


class ForwardCache(NamedTuple):
    idx: object       # (B, T) token ids
    emb_mask: object  # dropout mask of the embeddings, or None
    blocks: list      # one BlockCache per block
    xf: object        # (N, C) the final LayerNorm's output
    lnf: tuple        # the final LayerNorm's cache


class Transformer:
    """Forward and backward passes over a parameter dict (which it reads, never copies)."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        self.params = params
        self.attn = ATTENTIONS[cfg.c_attention]
        self.net = NETWORKS[cfg.c_network]
        self.sublayer = SUBLAYERS[cfg.c_sequence]  # pre- or post-norm (block.py)
        self.attn_step, self.net_step = one_position(self.attn), one_position(self.net)
        self.blocks = [{"ln1": _under(params, f"blocks.{i}.ln1."),
                        "ln2": _under(params, f"blocks.{i}.ln2."),
                        "attn": _under(params, f"blocks.{i}.attn."),
                        "net": _under(params, f"blocks.{i}.net.")}
                       for i in range(cfg.n_layers)]

    # ---- forward ----------------------------------------------------------------------
    def forward(self, idx, rt, states=None):
        """token ids (B, T) -> logits (B, T, V), cache for backward.

        With `states` (one per block, from new_states) the tokens fill those empty
        generation states (step continues from there), and no backward cache is kept.
        """
        p, cfg, forward = self.params, self.cfg, self.sublayer.forward
        B, T = idx.shape
        if T > cfg.n_ctx:
            raise ContextError(f"{T} positions do not fit the model's context window "
                               f"n_ctx = {cfg.n_ctx}: pass at most n_ctx tokens.")
        x = embedding_forward(p["wte.weight"], p["wpe.weight"], idx, rt.backend.dtype)  # B, T, C
        emb_mask = rt.dropout_mask(x.shape)
        x = dropout_forward(x, emb_mask)
        block_caches = []
        for i, blk in enumerate(self.blocks):
            state = states[i] if states else {}
            x, attn_cache = forward(self.attn, blk["attn"], blk["ln1"], x, cfg, rt,
                                    state.get("attn"))
            x, net_cache = forward(self.net, blk["net"], blk["ln2"], x, cfg, rt, state.get("net"))
            block_caches.append(BlockCache(attn_cache, net_cache))
        C = x.shape[-1]
        xf, lnf_cache = layernorm_forward(x.reshape(B * T, C), p["ln_f.weight"], p["ln_f.bias"],
                                          cfg.r_ln_eps)
        logits = self._head(xf)                                      # (N, V)
        cache = None if states is not None else ForwardCache(idx, emb_mask, block_caches, xf,
                                                             lnf_cache)
        return logits.reshape(B, T, -1), cache

    # ---- one position at a time (generation) ----------------------------------------------
    def step(self, token, position, states, rt):
        """Logits (V,) for one token id at `position`, continuing the sequence cached in
        `states` (from new_states(1, ...), filled by forward up to `position`).

        forward() for T = 1, on vectors (C,) instead of (1, 1, C) arrays. At one position
        NumPy's cost is the number of calls, not the arithmetic, and vector calls skip
        the reshapes and broadcasts: this is what makes the KV cache pay off.
        """
        if position >= self.cfg.n_ctx:
            raise ContextError(f"position {position} lies outside the model's context window "
                               f"n_ctx = {self.cfg.n_ctx}.")
        p, cfg, step = self.params, self.cfg, self.sublayer.step
        attn_step, net_step = self.attn_step, self.net_step
        dt = rt.backend.dtype  # the weights' own, or float32 for float16 weights on the CPU
        x = (p["wte.weight"][token].astype(dt, copy=False)
             + p["wpe.weight"][position].astype(dt, copy=False))   # (C,)
        for blk, state in zip(self.blocks, states):
            x = step(attn_step, blk["attn"], blk["ln1"], x, cfg, rt, state["attn"])
            x = step(net_step, blk["net"], blk["ln2"], x, cfg, rt, state["net"])
        x = layernorm_vector(x, p["ln_f.weight"], p["ln_f.bias"], cfg.r_ln_eps)
        if self.cfg.c_tie:
            return self._tied_logits(x)                            # (C,) -> (V,)
        return linear_forward(x, p["lm_head.weight"], p["lm_head.bias"])

    def _head(self, xf):
        """The output layer: (N, C) -> logits (N, V); tied, xf @ wte.T with no bias."""
        p = self.params
        if self.cfg.c_tie:
            return self._tied_logits(xf)
        return linear_forward(xf, p["lm_head.weight"], p["lm_head.bias"])

    def _tied_logits(self, x):
        """x (..., C) @ wte.T -> (..., V): the tied output layer (linear_forward of wte's
        transpose, which widens float16 weights a block of rows at a time)."""
        return linear_forward(x, self.params["wte.weight"].T)

    # ---- backward ---------------------------------------------------------------------
    # the gradients as big as the vocabulary, which a trainer keeps arrays for (VOCAB_SIZED)
    VOCAB_SIZED = ("wte.weight", "lm_head.weight")

    def backward(self, dlogits, cache, into=None):
        """dlogits (B, T, V) -> gradients, a dict with the keys of the parameters.

        into: {key: array} to write those of the VOCAB_SIZED gradients it has into, instead
        of new arrays. A trainer passes the same ones every step: at GPT-2's vocabulary
        wte's is 150 MB, whose fresh pages cost GPT-2 small's step up to 0.4 s when
        allocated anew."""
        into = into or {}
        d_wte = into.get("wte.weight")
        p, backward = self.params, self.sublayer.backward
        B, T, V = dlogits.shape
        grads = {}
        dlogits = dlogits.reshape(B * T, V)
        xp = array_module(dlogits)
        if self.cfg.c_tie:  # logits = xf @ wte.T: d xf = dlogits @ wte, d wte = dlogits.T @ xf
            dxf = dlogits @ p["wte.weight"]                                 # (N, C)
            d_head = xp.matmul(dlogits.T, cache.xf, out=d_wte)              # (V, C)
        else:
            dxf, grads["lm_head.weight"], grads["lm_head.bias"] = linear_backward(
                dlogits, cache.xf, p["lm_head.weight"], dw_out=into.get("lm_head.weight"))
        dx, grads["ln_f.weight"], grads["ln_f.bias"] = layernorm_backward(
            dxf, p["ln_f.weight"], cache.lnf)
        dx = dx.reshape(B, T, -1)
        for i in reversed(range(self.cfg.n_layers)):
            blk, block_cache, pre = self.blocks[i], cache.blocks[i], f"blocks.{i}."
            dx, g_net, grads[pre + "ln2.weight"], grads[pre + "ln2.bias"] = backward(
                self.net, blk["net"], blk["ln2"], dx, block_cache.net)
            dx, g_attn, grads[pre + "ln1.weight"], grads[pre + "ln1.bias"] = backward(
                self.attn, blk["attn"], blk["ln1"], dx, block_cache.attn)
            grads.update({pre + "attn." + k: v for k, v in g_attn.items()})
            grads.update({pre + "net." + k: v for k, v in g_net.items()})
        dx = dropout_backward(dx, cache.emb_mask)
        if not self.cfg.c_tie and d_wte is not None:
            d_wte[...] = 0
        d_wte, d_wpe = embedding_backward(dx, cache.idx, p["wte.weight"].shape[0],
                                          out=d_head if self.cfg.c_tie else d_wte)
        grads["wte.weight"] = d_wte  # tied: the sum of the output's and the embedding's uses
        grads["wpe.weight"] = self._pad_rows(d_wpe, p["wpe.weight"])
        return {k: grads[k] for k in p}  # the parameters' order

    @staticmethod
    def _pad_rows(d_rows, weight):
        """Gradient of the first len(d_rows) rows of `weight`, zeros for the rest."""
        if d_rows.shape[0] == weight.shape[0]:
            return d_rows
        full = array_module(weight).zeros_like(weight)
        full[:d_rows.shape[0]] = d_rows
        return full

    # ---- loss -------------------------------------------------------------------------
    def loss_and_grads(self, idx, targets, rt, into=None):
        """Mean cross-entropy of predicting targets (B, T) from idx (B, T), and its gradients
        (the vocabulary-sized ones written into `into`'s arrays when given: backward)."""
        logits, cache = self.forward(idx, rt)
        B, T, V = logits.shape
        flat_targets = targets.reshape(-1)
        loss, probs = cross_entropy_forward(logits.reshape(B * T, V), flat_targets)
        dlogits = cross_entropy_backward(probs, flat_targets)
        return loss, self.backward(dlogits.reshape(B, T, V), cache, into)

    def new_states(self, batch, rt):
        """Empty generation states (KV caches), one per block."""
        return [{"attn": self.attn.new_state(self.cfg, batch, rt),
                 "net": self.net.new_state(self.cfg, batch, rt)}
                for _ in range(self.cfg.n_layers)]
