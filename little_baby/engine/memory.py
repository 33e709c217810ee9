"""How much memory a training step and a generation need, estimated from the config
before anything is allocated (what the machine has is training/'s and cli/'s to ask).

A training step holds at once (b bytes per float, N = batch_size * n_ctx rows):
    weights and AdamW's two moments       3 P b        P = the parameter count
    gradients, one set per batch shard    shards P b   (parallel.py: one shard per core)
    each block's forward cache            N (ROWS_PER_BLOCK[...] floats) b per block
    attention weights, variants with      B h T T b per block, times 3 with dropout on
      q k^T (mha, moh, swh, gqa, rfa)       (the weights, their dropped copy and the mask)
    the embeddings and the head           N (4 C + 3 V) b: logits, softmax and its gradient
The per-row counts are what the variants' caches keep (their modules' docstrings give
the shapes). It is an estimate, not a count: for the variants it has been compared with
it lies between about half and 1.2 times what tracemalloc measures of a NumPy step
(tests/test_reliability.py checks one), so what it finds several times too big for a
machine cannot run there.
"""
from typing import NamedTuple

from .ops import WIDEN_COLUMNS
from .transformer import count_params

# attention variants whose caches hold (B, h, T, T) weights; the others are linear in T
QUADRATIC = {"mha", "moh", "swh", "gqa", "rfa"}
_ITEMSIZE = {"fp32": 4, "fp64": 8, "fp16": 2}


class MemoryEstimate(NamedTuple):
    """Bytes of one training step (or one generation), by what holds them."""

    weights: int       # parameters (and, training, AdamW's moments)
    gradients: int     # one gradient set per shard (training only)
    activations: int   # forward caches, attention weights, logits

    @property
    def total(self):
        return self.weights + self.gradients + self.activations


def _network_rows(cfg):
    """Floats the network's cache keeps per row beyond its input and output: its hidden
    activations (mlp: pre- and post-GELU, 2 H; moe: those of every expert, 2 E H; swi:
    gate, up and product, 3 H; lor: the rank-r middle; gln, ggl: value and gate; nft:
    q, k, v and the running sums)."""
    C, H = cfg.n_emb, cfg.n_hidden * cfg.n_emb
    return {"mlp": 2 * H, "moe": 2 * cfg.n_experts * H, "swi": 3 * H, "lor": cfg.n_rank,
            "gln": 2 * C, "ggl": 2 * C, "nft": 5 * C}.get(cfg.c_network, 2 * H)


def _block_rows(cfg):
    """Floats a block's forward cache keeps per row (token): each sub-layer's LayerNorm
    cache, input, output, dropout mask and residual (5 C each), the attention's
    projections (q, k, v, scaled q, heads' output and its merge: 6 S) and the network's
    hidden activations."""
    return 10 * cfg.n_emb + 6 * cfg.head_size + _network_rows(cfg)


def training_bytes(cfg, vocab_size, batch_size=None, shards=1):
    """MemoryEstimate of one training step of `cfg` with `vocab_size` symbols, a batch
    of `batch_size` (default cfg.batch_size) windows of n_ctx tokens, cut into `shards`."""
    b = _ITEMSIZE.get(cfg.d_type, 4)
    B, T, L = batch_size or cfg.batch_size, cfg.n_ctx, cfg.n_layers
    P = count_params(cfg, vocab_size)
    rows = B * T
    activations = rows * (L * _block_rows(cfg) + 4 * cfg.n_emb + 3 * vocab_size)
    if cfg.c_attention in QUADRATIC:
        activations += L * B * cfg.n_heads * T * T * (3 if cfg.r_dropout > 0 else 1)
    return MemoryEstimate(3 * P * b, max(1, shards) * P * b, activations * b)


def _itemsizes(cfg):
    """Bytes of a weight and of a computed float: float16 weights on the CPU are
    multiplied in float32 (engine/backend.py)."""
    weight = _ITEMSIZE.get(cfg.d_type, 4)
    return weight, 4 if cfg.d_type == "fp16" and cfg.c_device == "cpu" else weight


def model_bytes(cfg, vocab_size):
    """MemoryEstimate of building a fresh model: its weights twice over (init_params's
    arrays, in the type computed in, then the one flat buffer LittleBaby copies them into),
    and a narrowed copy between the two where the weights are held in another type."""
    weight, computed = _itemsizes(cfg)
    each = computed + weight + (weight if weight != computed else 0)
    return MemoryEstimate(count_params(cfg, vocab_size) * each, 0, 0)


def generation_bytes(cfg, vocab_size, prompt_tokens=None):
    """MemoryEstimate of generating with `cfg`: the weights, the KV caches of n_ctx
    positions, and the forward pass over a prompt of `prompt_tokens` (default n_ctx)."""
    weight, computed = _itemsizes(cfg)
    T, L = prompt_tokens or cfg.n_ctx, cfg.n_layers
    activations = 2 * L * cfg.n_ctx * cfg.head_size + T * (2 * cfg.n_emb + 2 * vocab_size)
    if cfg.c_attention in QUADRATIC:
        activations += cfg.n_heads * T * T  # one layer's weights at a time (no backward)
    if weight != computed:  # a weight's block widened for its product (ops.linear_forward)
        activations += max(cfg.n_emb, cfg.head_size, cfg.n_hidden * cfg.n_emb) * WIDEN_COLUMNS
    return MemoryEstimate(count_params(cfg, vocab_size) * weight, 0, activations * computed)
