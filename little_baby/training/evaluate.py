"""Held-out evaluation: the mean cross-entropy over every full window of the text's
validation part (the last 1 - r_split of its tokens), in nats and bits per token.

The stride-n_ctx windows cover the held-out text once; every position of a window is
scored, so position t of a window predicts from t + 1 tokens of context (as in training).
"""
import math

from .data import TrainingData

EVAL_BATCH = 64  # windows per forward pass


def heldout_loss(baby, text, r_split=None, max_tokens=None):
    """{"loss": nats per token, "bits_per_token", "windows", "tokens"} of `baby` on the
    held-out part of `text` (r_split: the model's unless given; max_tokens: only the
    first that many held-out tokens, for a quicker check)."""
    cfg = baby.config
    ids = baby.tokenizer.encode(text)
    data = TrainingData(ids, cfg.n_ctx, EVAL_BATCH, cfg.r_split if r_split is None else r_split)
    if max_tokens is not None:
        data.val = data.val[:max_tokens + 1]
    batches = data.sample("val", len(data.val))
    total, count = 0.0, 0
    for x, y in batches:
        total += baby.loss(x, y) * y.size
        count += y.size
    loss = total / count
    return {"loss": loss, "bits_per_token": loss / math.log(2), "windows": count // cfg.n_ctx,
            "tokens": count}
