"""Held-out evaluation: the mean cross-entropy over every full window of the text's
validation part (the last 1 - r_split of its tokens; for char and BPE models the same
text, the last 1 - r_split of its characters: data.encode_split), in nats and bits per token.

The stride-n_ctx windows cover the held-out text once; every position of a window is
scored, so position t of a window predicts from t + 1 tokens of context (as in training).
"""
import math

import numpy

from .data import TrainingData, encode_split, windows_at

EVAL_BATCH = 64  # windows per forward pass


def heldout_loss(baby, text, r_split=None, every=1):
    """{"loss": nats per token, "bits_per_token", "bits_per_char" (the held-out text's
    characters per token: models of any tokenizer compare), "windows", "tokens"} of `baby` on the
    held-out part of `text` (r_split: the model's unless given). every=k scores every
    k-th window only: a quicker check spread over the whole held-out text."""
    cfg = baby.config
    r_split = cfg.r_split if r_split is None else r_split
    data = TrainingData(*encode_split(baby.tokenizer, text, r_split), cfg.n_ctx, EVAL_BATCH)
    starts = (numpy.arange((len(data.val) - 1) // cfg.n_ctx) * cfg.n_ctx)[::every]
    total, count = 0.0, 0
    for i in range(0, len(starts), EVAL_BATCH):
        x, y = windows_at(data.val, starts[i:i + EVAL_BATCH], cfg.n_ctx)
        total += baby.loss(x, y) * y.size
        count += y.size
    loss = total / count
    chars_per_token = len(baby.tokenizer.decode(data.val)) / max(1, len(data.val))
    return {"loss": loss, "bits_per_token": loss / math.log(2),
            "bits_per_char": loss / math.log(2) / chars_per_token, "windows": len(starts),
            "tokens": count}
