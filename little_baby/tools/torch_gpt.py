"""nanoGPT's model (Karpathy, nanoGPT model.py: pre-norm blocks, fused qkv,
scaled_dot_product_attention, tanh GELU) in PyTorch, and its timing loops: the torch side
of `little-baby bench --against torch` (tools/torch_side.py runs it). Needs torch."""
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from .shapes import VOCAB


class Block(nn.Module):
    def __init__(self, C, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.up, self.down = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cache=None):
        """x (B, T, C) -> (B, T, C); a list `cache` receives the keys and values."""
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            cache[:] = [k, v]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh")))

    def step(self, x, cache):
        """One new position x (B, 1, C) after those whose keys and values `cache` holds
        ([k, v], each (B, heads, t, d), or empty): HF transformers' past_key_values, by hand."""
        B, _, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, 1, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        if cache:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        cache[:] = [k, v]
        y = F.scaled_dot_product_attention(q, k, v)  # the one query sees every cached key
        x = x + self.proj(y.transpose(1, 2).reshape(B, 1, C))
        return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, n_ctx, n_emb, n_heads, n_layers, dropout):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, n_emb), nn.Embedding(n_ctx, n_emb)
        self.blocks = nn.ModuleList(Block(n_emb, n_heads, dropout) for _ in range(n_layers))
        self.ln_f, self.head = nn.LayerNorm(n_emb), nn.Linear(n_emb, VOCAB)
        self.drop = nn.Dropout(dropout)

    def forward(self, idx, targets=None, caches=None):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))

    def step(self, token, position, caches):
        """Logits (B, V) of one new token (B, 1) at `position`, with a KV cache per block."""
        x = self.wte(token) + self.wpe(torch.tensor([position]))
        for block, cache in zip(self.blocks, caches):
            x = block.step(x, cache)
        return self.head(self.ln_f(x))[:, -1, :]


@torch.no_grad()
def generate_tokens_per_s(model, n_ctx, n_tokens):
    """nanoGPT's generation loop: crop to the last n_ctx tokens, run the whole window,
    sample from the last position (no KV cache)."""
    model.eval()
    idx = torch.zeros((1, 1), dtype=torch.long)
    start = time.perf_counter()
    for _ in range(n_tokens):
        logits = model(idx[:, -n_ctx:])[:, -1, :]
        idx = torch.cat([idx, torch.multinomial(F.softmax(logits, dim=-1), 1)], dim=1)
    return n_tokens / (time.perf_counter() - start)


@torch.no_grad()
def generate_cached_tokens_per_s(model, n_ctx, n_tokens):
    """The same with a KV cache (transformers' generate(use_cache=True) in miniature): each
    new token runs one position against the cached keys and values. When the window is
    full it restarts from its last n_ctx/2 tokens, its cache refilled by one forward pass,
    as little_baby's cached generation does (engine/sampling.py)."""
    model.eval()
    ids, caches, position = [0], None, 0
    start = time.perf_counter()
    for _ in range(n_tokens):
        if caches is None or position == n_ctx:  # a new window: one pass fills its cache
            window = ids[-max(1, n_ctx // 2):] if caches is not None else ids
            caches = [[] for _ in model.blocks]
            logits = model(torch.tensor([window]), caches=caches)[:, -1, :]
            position = len(window)
        else:
            logits = model.step(torch.tensor([[ids[-1]]]), position, caches)
            position += 1
        ids.append(int(torch.multinomial(F.softmax(logits, dim=-1), 1)))
    return n_tokens / (time.perf_counter() - start)


def train_ms_per_step(model, shape, steps, compiled):
    """Median ms of a training step (forward, backward, clipping, AdamW), after warm-up
    steps (with torch.compile, the first ones compile)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    run = torch.compile(model) if compiled else model
    times = []
    for i in range(steps + (5 if compiled else 3)):
        w = torch.randint(0, VOCAB, (shape["batch_size"], shape["n_ctx"] + 1))
        start = time.perf_counter()
        loss = run(w[:, :-1], w[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= (5 if compiled else 3):
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3
