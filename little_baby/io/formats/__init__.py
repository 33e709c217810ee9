"""Other projects' files: the original project's JSON (original), GPT-2's as transformers
writes them (gpt2: export and from_transformers; gpt2_checkpoint: read without torch)."""
