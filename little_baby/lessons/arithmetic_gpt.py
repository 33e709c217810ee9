"""The arithmetic lesson through the GPT engine: same vocabulary, sums and held-out set.

`arithmetic.py` trains a network made for the task: it sees a fixed context (the
question and the answer so far) and predicts one token. Here the same sums are plain
text for the transformer of `little_baby` (`LittleBaby`, trained by `train.Trainer`),
the way it would read Shakespeare:

    each training row is one equation, padded with blanks to a fixed length,
        "1+2=3  "   (digits=1: 7 characters; "9+9=18 " is the longest)
    inputs x = row[:-1], targets y = row[1:]: every position predicts the next character.

Why not mask the loss to the answer tokens? The engine's loss is the mean over every
position, the same loss it uses for any text, and that is the point of the comparison:
nothing here is special to arithmetic. The positions that predict an operand cannot do
better than a uniform guess over 10 digits, so the loss cannot fall below
`loss_floor(digits)` (ln(10) / 6 ~ 0.38 for one digit); they cost some training signal,
not correctness. The answer positions are fully determined by the question, and those
are what `ask` reads.

A row holds one equation from its first character, not a window cut anywhere from a
long stream of sums: the question always sits at the same positions, as it does when
the model is asked, and a held-out sum appears in no row.

Asking: the question and the answer so far go in, padded with blanks to n_ctx; the
causal mask means the blanks after the last real character change nothing, and the
logits at that character predict the next one.
"""
import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from .. import BabyConfig, CharTokenizer, LittleBaby
from ..training.trainer import Trainer
from .arithmetic import BLANK, VOCAB, context_length, encode, equation, question, softmax


@dataclass
class GPTHyperparameters:
    """A very small transformer and its training."""

    n_emb: int = 16  # embedding width (all heads together are as wide)
    n_heads: int = 4
    n_layers: int = 2
    epochs: int = 200  # passes over the training equations
    lr: float = 1e-2  # AdamW's peak learning rate (warm-up, then cosine decay)
    batch_size: int = 32  # equations per step
    seed: int = 0

    @classmethod
    def for_digits(cls, digits, **changes):
        """Defaults that train in seconds: 100 sums (1 digit) or 10,000 (2 digits)."""
        base = cls() if digits == 1 else cls(epochs=10)
        return dataclasses.replace(base, **changes)


def row_length(digits=1):
    """Characters per training row: the longest equation, its closing blank included."""
    return context_length(digits) + 1


def make_rows(sums, digits=1):
    """The training text: one padded equation per row -> token ids (N, row_length)."""
    return np.stack([encode(equation(a, b, digits).ljust(row_length(digits), BLANK))
                     for a, b in sums])


def loss_floor(digits=1):
    """The lowest mean loss possible. Each character of the two numbers after the row's
    first is a fair guess among 10 (ln 10 each): 2*digits - 1 of the 3*digits + 3
    predictions in a row; every other character follows from the ones before it."""
    return (2 * digits - 1) * math.log(10) / context_length(digits)


def new_gpt(hp, digits=1):
    """A fresh LittleBaby over the lesson's 13-symbol vocabulary (same ids as the lesson)."""
    cfg = BabyConfig(n_ctx=context_length(digits), n_emb=hp.n_emb, head_size=hp.n_emb,
                     n_heads=hp.n_heads, n_layers=hp.n_layers, n_hidden=4,
                     batch_size=hp.batch_size, n_epochs=hp.epochs, r_learn=hp.lr,
                     r_dropout=0.0, seed=hp.seed)
    return LittleBaby(cfg, CharTokenizer(VOCAB))


def train_gpt(hp, sums, digits=1, log=None):
    """Train a fresh LittleBaby on the sums, row batches in a new order every epoch.

    Returns the model and a report (losses before and after, seconds, parameters).
    """
    rows = make_rows(sums, digits)                         # (N, T + 1)
    x_all, y_all = rows[:, :-1], rows[:, 1:]                # (N, T) each: y is x moved by one
    baby = new_gpt(hp, digits)
    steps_per_epoch = -(-len(rows) // hp.batch_size)
    trainer = Trainer(baby, total_steps=hp.epochs * steps_per_epoch)
    rng = np.random.default_rng(hp.seed + 1)
    start, first = time.perf_counter(), baby.loss(x_all, y_all)
    for epoch in range(1, hp.epochs + 1):
        order = rng.permutation(len(rows))
        for i in range(0, len(rows), hp.batch_size):
            batch = order[i:i + hp.batch_size]
            trainer.step(x_all[batch], y_all[batch])
        if log and epoch % max(1, hp.epochs // 10) == 0:
            log(epoch, baby.loss(x_all, y_all))
    report = {"rows": len(rows), "steps": trainer.step_count, "loss_before": first,
              "loss_after": baby.loss(x_all, y_all), "seconds": time.perf_counter() - start,
              "params": baby.n_params}
    return baby, report


def gpt_predictor(baby, digits=1):
    """A function (sums, answers so far) -> next-token probabilities (N, V), like
    `arithmetic.mlp_predictor`, for a trained LittleBaby."""
    T = context_length(digits)

    def predict(sums, so_far):
        texts = [question(a, b, digits) + s for (a, b), s in zip(sums, so_far)]
        ids = np.stack([encode(t.ljust(T, BLANK)) for t in texts])       # (N, T)
        logits = baby.backend.to_numpy(baby.logits(ids))                 # (N, T, V)
        last = np.array([len(t) - 1 for t in texts])                     # the last real character
        return softmax(logits[np.arange(len(texts)), last].astype(np.float64))
    return predict
