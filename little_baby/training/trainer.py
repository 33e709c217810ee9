"""The training step: loss and gradients, learning-rate schedule, AdamW; and the state
a checkpoint needs to continue a run exactly where it stopped."""
from ..engine.optim import AdamW, lr_at
from ..errors import TrainingError, on_cli


def check_trainable(cfg):
    """A TrainingError for a model that cannot train as it is set: d_type fp16."""
    if cfg.d_type == "fp16":
        raise TrainingError(
            "this model is set to d_type fp16, which is for generation: AdamW's small updates "
            "vanish in float16. Train in fp32 (" + ("--d-type fp32" if on_cli() else
                                                    "LittleBaby.load(name, d_type='fp32')")
            + "); " + ("--weights-dtype float16 stores the weights in float16." if on_cli() else
                       "fit(..., weights_dtype='float16') stores the weights in float16."))


class Trainer:
    """Optimizer state and step counter of one training run of `total_steps` steps."""

    def __init__(self, baby, total_steps):
        cfg = baby.config
        check_trainable(cfg)
        self.baby = baby
        self.total_steps = total_steps
        self.warmup = cfg.warmup_steps(total_steps)
        self.optimizer = AdamW(baby.flat, baby.params, weight_decay=cfg.r_weight_decay,
                               clip=cfg.r_clip, map=baby.backend.map,
                               n_parts=baby.backend.n_cores if baby.backend.device == "cpu" else 1)
        self.kept = {}  # arrays the training shards reuse from step to step (parallel.py)
        self.step_count = 0
        self.best = None  # a copy of the weights (flat) at the best evaluation, when kept

    def lr(self):
        return lr_at(self.step_count, self.total_steps, self.warmup, self.baby.config.r_learn)

    def step(self, x, y):
        """One optimisation step on inputs x and targets y (B, T); returns (loss, grad norm)."""
        if self.baby.flat is not self.optimizer.flat:
            raise TrainingError(
                "the model's parameters were replaced (expand_vocab, or params set) after this "
                "Trainer was made, so it would update stale copies: make a new Trainer.")
        loss, grads = self.baby.loss_and_grads(x, y, out=self.optimizer.grads, keep=self.kept)
        norm = self.optimizer.step(grads, self.lr())
        self.step_count += 1
        return loss, norm

    def keep_best(self):
        """Remember the weights as they are now: the best so far."""
        if self.best is None:
            self.best = self.baby.flat.copy()
        else:
            self.best[...] = self.baby.flat

    def best_params(self):
        """The remembered best weights as a dict like baby.params (views into the copy)."""
        views, at = {}, 0
        for key, value in self.baby.params.items():
            views[key] = self.best[at:at + value.size].reshape(value.shape)
            at += value.size
        return views

    def state_dict(self):
        """(arrays, counters) to continue this run exactly: the weights by key
        ('params.<key>'), AdamW's moments ('adamw.m', 'adamw.v'), the best weights so far
        when they are kept ('best.flat'), the step counts and the dropout generator's
        state (None on the GPU, whose generator does not expose it)."""
        moments, counters = self.optimizer.state_dict()
        arrays = {**{f"params.{k}": v for k, v in self.baby.params.items()},
                  **{f"adamw.{k}": v for k, v in moments.items()}}
        if self.best is not None:
            arrays["best.flat"] = self.best
        state = getattr(self.baby.train_rng.bit_generator, "state", None)  # CuPy's: a method
        return arrays, {"step": self.step_count, "total_steps": self.total_steps,
                        "adamw": counters, "dropout_rng": state if isinstance(state, dict) else None}

    def load_state_dict(self, arrays, counters):
        """Restore what state_dict gave (arrays may be NumPy arrays on the host)."""
        backend = self.baby.backend
        for key, value in self.baby.params.items():
            value[...] = backend.asarray(arrays[f"params.{key}"])
        self.optimizer.load_state_dict(
            {k: backend.asarray(arrays[f"adamw.{k}"]) for k in ("m", "v")}, counters["adamw"])
        self.step_count = int(counters["step"])
        self.best = backend.asarray(arrays["best.flat"]).copy() if "best.flat" in arrays else None
        if counters["dropout_rng"] is not None:
            self.baby.train_rng.bit_generator.state = counters["dropout_rng"]
        else:  # no saved state (GPU): a fresh, still seeded stream for the rest of the run
            self.baby.train_rng = backend.rng(self.baby.config.seed + 1 + self.step_count)
