"""The model learns: on Tiny Shakespeare the validation loss falls well below ln(vocab)."""
import math

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.training.datasets import how_to_get
from little_baby.training.data import find_input, random_batch, read_corpus
from little_baby.training.trainer import Trainer

SHAKESPEARE = find_input("shakespeare.txt")


@pytest.mark.skipif(SHAKESPEARE is None, reason="shakespeare.txt not found: " +
                    how_to_get("shakespeare"))
def test_validation_loss_falls_on_shakespeare():
    text = read_corpus(SHAKESPEARE)
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    split = int(0.9 * len(ids))
    train, val = ids[:split], ids[split:]
    cfg = BabyConfig(n_ctx=32, n_emb=64, head_size=64, n_heads=4, n_layers=2, batch_size=16,
                     r_dropout=0.0, r_learn=3e-3)
    baby = LittleBaby(cfg, tok)
    rng = np.random.default_rng(0)
    val_x, val_y = random_batch(val, 64, cfg.n_ctx, rng)
    before = baby.loss(val_x, val_y)
    trainer = Trainer(baby, total_steps=300)
    for _ in range(300):
        trainer.step(*random_batch(train, cfg.batch_size, cfg.n_ctx, rng))
    after = baby.loss(val_x, val_y)
    uniform = math.log(tok.vocab_size)
    assert abs(before - uniform) < 0.3  # starts near the uniform guess
    assert after < 2.6 < uniform - 1.5, f"validation loss {after:.3f} did not fall enough"
