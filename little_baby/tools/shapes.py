"""The benchmark shapes, shared by bench.py, profile.py and torch_side.py: the project's
'baby' (nanoGPT's small CPU configuration) and the 48-month age model's."""
from ..baby import LittleBaby
from ..config import BabyConfig
from ..tokenizer import CharTokenizer

SHAPES = {
    "baby": dict(batch_size=12, n_ctx=64, n_emb=128, head_size=128, n_heads=4, n_layers=4),
    "age48": dict(batch_size=16, n_ctx=128, n_emb=128, head_size=128, n_heads=16, n_layers=16),
}
VOCAB = 65  # Tiny Shakespeare's characters


def fresh_baby(shape, overrides):
    """A freshly initialised model of a benchmark shape over VOCAB symbols."""
    cfg = BabyConfig(**{**SHAPES[shape], **overrides})
    return LittleBaby(cfg, CharTokenizer([chr(32 + i) for i in range(VOCAB)]))
