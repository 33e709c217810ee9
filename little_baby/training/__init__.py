"""Training: the text and its batches (data), one optimisation step (trainer), a whole
run with evaluation, checkpoints and resume (run), and what a report records (report)."""
