"""The training step: loss and gradients, learning-rate schedule, AdamW."""
from .optim import AdamW, lr_at


class Trainer:
    """Optimizer state and step counter of one training run of `total_steps` steps."""

    def __init__(self, baby, total_steps):
        cfg = baby.config
        self.baby = baby
        self.total_steps = total_steps
        self.warmup = cfg.warmup_steps(total_steps)
        self.optimizer = AdamW(baby.flat, baby.params, weight_decay=cfg.r_weight_decay,
                               clip=cfg.r_clip)
        self.step_count = 0

    def lr(self):
        return lr_at(self.step_count, self.total_steps, self.warmup, self.baby.config.r_learn)

    def step(self, x, y):
        """One optimisation step on inputs x and targets y (B, T); returns (loss, grad norm)."""
        loss, grads = self.baby.loss_and_grads(x, y)
        norm = self.optimizer.step(grads, self.lr())
        self.step_count += 1
        return loss, norm
