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

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, n_ctx, n_emb, n_heads, n_layers, dropout):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, n_emb), nn.Embedding(n_ctx, n_emb)
        self.blocks = nn.ModuleList(Block(n_emb, n_heads, dropout) for _ in range(n_layers))
        self.ln_f, self.head = nn.LayerNorm(n_emb), nn.Linear(n_emb, VOCAB)
        self.drop = nn.Dropout(dropout)

    def forward(self, idx, targets=None):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))


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
