"""Lessons: small, self-contained programs to read top to bottom before the transformer.

    arithmetic      a tiny network learns to add and answers 4+4 without having seen it
    arithmetic_gpt  the same task, data and held-out set, trained through the GPT engine
"""
