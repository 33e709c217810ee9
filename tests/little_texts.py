"""Small texts and a tiny config for training tests that must run anywhere, fast."""
import numpy as np

TINY = dict(n_ctx=8, n_emb=8, head_size=8, n_heads=2, n_layers=1, batch_size=4)

LINES = ["The baby sat by the window and watched the rain.",
         "A small bird sang on the old stone wall.",
         "Mother said: sleep now, the night is long.",
         "Father read a story of ships and far islands.",
         "The cat slept; the fire was warm; the clock went on."]


def english(n_lines=80, seed=0):
    """About 4 KB of English: the lines above in a seeded order."""
    rng = np.random.default_rng(seed)
    return "\n".join(LINES[i] for i in rng.integers(0, len(LINES), n_lines)) + "\n"


GREEK = ("ΑΝΤΙΓΟΝΗ\nΙσμήνη, αδελφούλα μου, εσύ αγαπημένο κεφαλάκι.\n"
         "Ξέρεις να έμεινε απ’ τον Οιδίποδα κακό που να μην έρριξεν ο Δίας επάνω μας;\n") * 12
