"""Training runs: `fit` trains a model on a corpus (from scratch, or on top of its weights
= finetuning) and `resume` continues a stopped run. Both write the model folder.

A run walks n_epochs epochs of shuffled stride-n_ctx windows, or max_iters steps of
random windows; it measures train and validation loss on fixed samples every
eval_interval steps, checkpoints every checkpoint_interval steps and on Ctrl-C, and
stops with a clear message when the loss turns nan or diverges, keeping the last good
checkpoint. The model it saves has the weights of the last step, or (keep="best", what
a finetune does unless told otherwise) those of the evaluation with the lowest
validation loss, the parent's own at step 0 included: a finetune never ends worse on
that sample than the model it started from. A finetune stores its weights in the
parent's float type (float16 for the age models) unless told otherwise. The batch of each step depends only on (seed, step), and a checkpoint holds
the weights, AdamW's moments and the dropout generator, so a resumed run continues
exactly as if it had never stopped.

A run holds its folder for its whole life (io/store/claim.py): a second run into the same
folder, or a resume of a run still going, is refused, naming the run that holds it.
Before anything is claimed or allocated, the memory a step needs is compared with what
the machine has (resources.py).
"""
import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy
from tqdm import tqdm

from ..errors import (FolderTakenError, TrainingDiverged, TrainingError, TrainingInterrupted,
                      on_cli, spelled)
from ..io.store.checkpoint import CHECKPOINT, load_checkpoint, remove_checkpoint, save_checkpoint
from ..io.store.claim import claimed
from ..io.store.identity import for_training, found_at, identify, model_dir
from ..io.store.model_folder import (LOSS_CURVE, REPORT, ModelParts, is_model_folder,
                                     model_report, read_config_and_tokenizer, read_report,
                                     write_json, write_model)
from ..io.store.resolve import find_model
from ..io.store.report import corpus_name
from ..tokenizer import tokenizer_from_dict
from .data import TrainingData, encode_split, find_input, load_corpus, read_corpus, text_sha256
from .resources import SIZES, check_training_fits
from .trainer import Trainer, check_trainable
from .report import hardware, plot_losses


WEIGHTS_DTYPES = (None, "float16", "float32", "float64")
# `little-baby finetune`'s learning rate unless told: a trained model restarted at the
# rate it was trained at (1.5e-3 to 2e-3 for the age models) gets worse before it gets
# better; this one, about its rate at the end of training, does not
FINETUNE_R_LEARN = 3e-4


@dataclasses.dataclass
class Plan:
    """How long to train, and how often to evaluate and checkpoint.

    max_iters: that many steps of random windows; otherwise n_epochs epochs (None: the
    config's n_epochs) of shuffled stride-n_ctx windows. eval_interval None: a 20th of
    the run, at least 50 steps (an evaluation costs about 2 * eval_iters / 3 steps);
    eval_iters: batches in each fixed evaluation sample;
    checkpoint_interval None: at every evaluation.
    keep: "last" (the weights of the last step) or "best" (those of the evaluation with
    the lowest validation loss); None: "best" for a finetune, "last" for a new model.
    weights_dtype: the float type of the saved weights ("float16", "float32"); None: the
    parent's for a finetune, the model's own (float32) for a new model.
    """

    max_iters: int | None = None
    n_epochs: int | None = None
    eval_interval: int | None = None
    eval_iters: int = 10
    checkpoint_interval: int | None = None
    keep: str | None = None
    weights_dtype: str | None = None
    total_steps: int | None = None  # decided by resolve()

    def resolve(self, config, data):
        """A copy with every number decided for this config and data."""
        for key in ("max_iters", "n_epochs", "eval_interval", "eval_iters", "checkpoint_interval"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise TrainingError(f"{key} must be a whole number of at least 1, not {value!r}.")
        if self.keep not in (None, "best", "last"):
            raise TrainingError(f"keep must be 'best' or 'last', not {self.keep!r}.")
        if self.weights_dtype not in WEIGHTS_DTYPES:
            raise TrainingError(f"weights_dtype must be one of "
                                f"{[d for d in WEIGHTS_DTYPES if d]} or None, not "
                                f"{self.weights_dtype!r}.")
        if self.max_iters is not None and self.n_epochs is not None:
            raise TrainingError("give max_iters (random windows) or n_epochs (epochs of "
                                "shuffled windows), not both.")
        n_epochs = None if self.max_iters else self.n_epochs or config.n_epochs
        total = self.max_iters or n_epochs * data.steps_per_epoch
        eval_interval = self.eval_interval or max(total // 20, min(total, 50))
        return dataclasses.replace(self, n_epochs=n_epochs, total_steps=total,
                                   keep=self.keep or "last",
                                   eval_interval=eval_interval,
                                   checkpoint_interval=self.checkpoint_interval or eval_interval)


def fit(baby, corpus, plan=None, out=None, store=None, quiet=False, guid=None):
    """Train `baby` on `corpus` (a text file's path or the text) and save it as a new model
    in `out` or <store>/<guid>/ (`guid`: a fresh one unless given); its previous GUID becomes
    its parent. Symbols the vocabulary lacks are added first. Returns the report.

    The folder must be new or empty; it is claimed for the run's life (io/store/claim.py)."""
    check_trainable(baby.config)  # before the model or anything else is touched
    text, path = load_corpus(corpus)
    plan = finetune_defaults(baby, plan or Plan())
    tokenizer = tokenizer_from_dict(baby.tokenizer.to_dict())  # a copy: baby's grows later
    new_symbols = tokenizer.expand(text)
    cfg = baby.config
    finetune = baby.guid is not None  # a trained model: its architecture stays
    data = TrainingData(*encode_split(tokenizer, text, cfg.r_split), cfg.n_ctx, cfg.batch_size,
                        cfg.c_shuffle, cfg.seed, n_ctx_fixed=finetune)
    plan = plan.resolve(cfg, data)
    identity = for_training(baby, guid)  # baby takes it once the run begins
    folder = Path(out) if out is not None else model_dir(identity["guid"], store)
    _check_fits(baby, tokenizer.vocab_size, ("batch_size",) if finetune else SIZES)
    with claimed(folder, "a training run"):  # refused, naming it, if another run holds it
        _check_free(folder)  # now that no other run can write it
        return _fit_claimed(baby, text, path, data, plan, folder, quiet, identity, new_symbols)


def finetune_defaults(baby, plan):
    """`plan` with what a finetune (a model that has a GUID: trained, or loaded) keeps
    unless told otherwise: the best evaluation's weights, in the parent's float type."""
    if baby.guid is None:
        return plan
    return dataclasses.replace(plan, keep=plan.keep or "best",
                               weights_dtype=plan.weights_dtype or getattr(baby, "weights_dtype", None))


def _fit_claimed(baby, text, path, data, plan, folder, quiet, identity, new_symbols):
    """fit, once every check has passed and `folder` is claimed: from here on the model
    changes and files are written. `identity`: the new model's (io/store/identity.py)."""
    cfg = baby.config
    baby.expand_vocab(text)
    identify(baby, {
        **identity, "status": "running", "started": _now(),
        # the file's name and sha256, what a reader can use; where it was on this machine
        # goes into the checkpoint only (TrainingRun.state["corpus_path"])
        "corpus": {"file": path.name if path else None, "sha256": text_sha256(text),
                   "n_chars": len(text), "n_tokens": len(data.train) + len(data.val),
                   "n_train": len(data.train), "n_val": len(data.val),
                   # characters of the held-out tokens: bits per character from nats per token
                   "n_val_chars": len(baby.tokenizer.decode(data.val)),
                   "new_symbols": new_symbols},
        "settings": {"config": cfg.to_dict(), "plan": dataclasses.asdict(plan)},
        "hardware": hardware(baby.backend),
        "losses": {"evals": [], "epochs": []},
    })
    run = TrainingRun(baby, data, plan, folder, quiet)
    run.state["corpus_path"] = str(path.resolve()) if path else None
    return run.run()


def resume(cls, name, store=None, corpus=None, quiet=False):
    """Continue the stopped run in folder / GUID `name` from its checkpoint, on its corpus
    (unless `corpus` is given: the file where the run last read it, else the file of its
    recorded name found by data.find_input; its sha256 must be the recorded one).
    Returns the model, a `cls` (LittleBaby); its report is baby.report. A run still
    going (a live process holds its folder) is refused, naming that process."""
    folder = find_model(name, store)
    with claimed(folder, "a resumed training run"):
        if read_report(folder).get("status") == "complete":
            raise TrainingError(f"the run in {folder} is complete: nothing to resume "
                                f"(finetune it to train it further).")
        arrays, counters, state = load_checkpoint(folder)
        report = state["report"]
        text, path = _resume_corpus(report["corpus"], state["run"], corpus)
        config, tokenizer = read_config_and_tokenizer(folder)
        params = {k[len("params."):]: v for k, v in arrays.items() if k.startswith("params.")}
        baby = identify(cls(config, tokenizer, params=params), report)
        _check_fits(baby, tokenizer.vocab_size, ())
        data = TrainingData(*encode_split(tokenizer, text, config.r_split), config.n_ctx,
                            config.batch_size, config.c_shuffle, config.seed)
        if (len(data.train), len(data.val)) != (report["corpus"]["n_train"],
                                                 report["corpus"]["n_val"]):
            raise TrainingError(  # a BPE run begun before the split was made in characters
                f"this run's text splits into {len(data.train):,} training and "
                f"{len(data.val):,} held-out tokens here, but it began with "
                f"{report['corpus']['n_train']:,} and {report['corpus']['n_val']:,} (an older "
                f"version cut BPE text differently): start the run again.")
        plan = Plan(**report["settings"]["plan"])
        plan.keep = plan.keep or "last"  # a run started before keep existed
        run = TrainingRun(baby, data, plan, folder, quiet)
        run.trainer.load_state_dict(arrays, counters)
        run.state = {**state["run"], "corpus_path": str(path.resolve()) if path else None}
        run.run()
        return baby


def _resume_corpus(recorded, run_state, corpus=None):
    """(text, path or None) of a resumed run's corpus: `corpus` if given, else the first
    file whose sha256 is the recorded one among where the run last read it (the
    checkpoint's corpus_path; an older report's absolute "path") and the file of its
    recorded name found by find_input (inputs/, $LITTLE_BABY_INPUTS ...)."""
    sha = recorded["sha256"]
    if corpus is not None:
        text, path = load_corpus(corpus)
        if text_sha256(text) != sha:
            raise TrainingError(f"the corpus differs from the one this run started on (sha256 "
                                f"{sha[:12]}...): resume with that text.")
        return text, path
    name = corpus_name(recorded)
    if name is None:
        raise TrainingError("this run was trained on text given in Python, not a file: pass "
                            "that text again, " + (
                                "saved in a file: `little-baby train --resume MODEL --corpus "
                                "FILE`." if on_cli() else "LittleBaby.resume(name, corpus=text)."))
    places = [run_state.get("corpus_path"), recorded.get("path"), find_input(name)]
    tried = list(dict.fromkeys(str(p) for p in places if p is not None))
    for place in tried:
        if Path(place).is_file():
            text = read_corpus(place)
            if text_sha256(text) == sha:
                return text, Path(place)
    looked = f"{', '.join(tried)}, and " if tried else ""
    raise TrainingError(f"this run's corpus, {name} (sha256 {sha[:12]}...), was not found: "
                        f"looked at {looked}inputs/ and $LITTLE_BABY_INPUTS (a file there "
                        f"must be the same text). Give it: " + (
                            "`little-baby train --resume MODEL --corpus FILE`." if on_cli()
                            else "LittleBaby.resume(name, corpus=path)."))


def bits_per_char(loss, corpus):
    """Bits per character of a loss in nats per held-out token (the char models' loss / ln 2),
    so that models of any tokenizer compare; None for a report without n_val_chars."""
    chars = corpus.get("n_val_chars")
    return loss / math.log(2) * corpus["n_val"] / chars if chars else None


def _check_fits(baby, vocab_size, can_change):
    backend = baby.backend
    shards = min(baby.config.batch_size, backend.n_cores) if backend.device == "cpu" else 1
    check_training_fits(baby.config, vocab_size, shards, backend.device, can_change)


def _check_free(folder):
    """Refuse (TrainingError; FolderTakenError for foreign files) a `folder` that is not
    new or empty: never train over a model, a stopped run, or files that are not a model."""
    if folder.exists() and not folder.is_dir():
        raise TrainingError(f"{folder} is a file, not a folder for the model.")
    if not folder.is_dir():
        return
    if is_model_folder(folder) or (folder / CHECKPOINT).exists():
        raise TrainingError(f"{folder} already holds a model: choose another folder, delete "
                            f"that one, or continue its run with --resume.")
    present = sorted(p.name for p in folder.iterdir())
    if present:
        shown = ", ".join(present[:5]) + (" ..." if len(present) > 5 else "")
        raise FolderTakenError(f"{folder} holds files that are not a model of ours ({shown}): "
                               f"train into a new or empty folder (--out DIR); nothing was "
                               f"changed.")


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class TrainingRun:
    """The loop around Trainer.step: batches, evaluation, checkpoints, divergence and
    Ctrl-C, progress bar, and the finished model folder."""

    def __init__(self, baby, data, plan, folder, quiet=False):
        self.baby, self.data, self.plan, self.folder, self.quiet = baby, data, plan, folder, quiet
        found_at(baby, folder)  # from its first step it lives there, whether it ends or stops
        self.trainer = Trainer(baby, plan.total_steps)
        rows = plan.eval_iters * baby.config.batch_size
        self.samples = {part: data.sample(part, rows) for part in ("train", "val")}
        self.batch = data.random_batch if plan.max_iters else data.epoch_batch
        # what a checkpoint keeps besides the trainer's state
        self.state = {"loss_limit": None, "checkpoint_step": None, "epoch_loss": [0.0, 0],
                      "seconds": 0.0, "train_seconds": 0.0, "tokens": 0}

    @property
    def step(self):
        return self.trainer.step_count

    def run(self):
        """Train to plan.total_steps; returns the report."""
        plan, state, evals = self.plan, self.state, self.baby.report["losses"]["evals"]
        self.clock = time.perf_counter() - state["seconds"]
        with _deferred_interrupt(self._say) as stop, tqdm(
                total=plan.total_steps, initial=self.step, disable=self.quiet, unit="step",
                desc=self.baby.guid[:8], file=sys.stderr, dynamic_ncols=True) as bar:
            if not evals:
                self._evaluate()
                self._checkpoint()
            while self.step < plan.total_steps:
                loss = self._train_step()
                bar.update(1)
                bar.set_postfix_str(progress_note(loss, evals[-1], state), refresh=False)
                epoch_end = not plan.max_iters and self.step % self.data.steps_per_epoch == 0
                last = self.step == plan.total_steps
                if self.step % plan.eval_interval == 0 or last or epoch_end:
                    self._evaluate()
                if epoch_end:
                    self._end_epoch()
                if stop.is_set():
                    self._checkpoint(status=f"interrupted at step {self.step}")
                    how = (f"`little-baby train --resume {self.folder}`" if on_cli() else
                           f"LittleBaby.resume({str(self.folder)!r})")
                    raise TrainingInterrupted(
                        f"stopped at step {self.step} of {plan.total_steps}; checkpoint saved in "
                        f"{self.folder}: continue with {how}.", stop.signum)
                if self.step % plan.checkpoint_interval == 0 and self.step < plan.total_steps:
                    self._checkpoint()
        return self._finish()

    def _train_step(self):
        x, y = self.batch(self.step)
        start = time.perf_counter()
        loss, norm = self.trainer.step(x, y)
        self.state["train_seconds"] += time.perf_counter() - start
        self.state["tokens"] += int(x.size)
        if not (math.isfinite(loss) and math.isfinite(norm)) or loss > self.state["loss_limit"]:
            self._diverged(f"the training loss became {loss:.4g} (gradient norm {norm:.4g})")
        self.state["epoch_loss"][0] += loss
        self.state["epoch_loss"][1] += 1
        return loss

    def _evaluate(self):
        """Mean loss (no dropout) on the fixed train and validation samples."""
        losses = {}
        for part, batches in self.samples.items():
            rows = sum(len(x) for x, _ in batches)
            losses[part] = sum(self.baby.loss(x, y) * len(x) for x, y in batches) / rows
        if not all(math.isfinite(v) for v in losses.values()):
            self._diverged(f"the validation loss became {losses['val']:.4g}")
        evals = self.baby.report["losses"]["evals"]
        evals.append({"step": self.step, "epoch": round(self.step / self.data.steps_per_epoch, 4),
                      "train": losses["train"], "val": losses["val"], "lr": self.trainer.lr(),
                      "seconds": round(time.perf_counter() - self.clock, 2)})
        if self.plan.keep == "best" and losses["val"] < self.state.get("best_val", math.inf):
            self.trainer.keep_best()
            self.state["best_val"], self.state["best_step"] = losses["val"], self.step
        if self.state["loss_limit"] is None:  # twice the start (or the uniform guess)
            start = max(math.log(self.baby.tokenizer.vocab_size), *losses.values())
            self.state["loss_limit"] = 2 * start
        self._say(f"step {self.step}/{self.plan.total_steps}: train {losses['train']:.4f}, "
                  f"val {losses['val']:.4f}, lr {evals[-1]['lr']:.2e}")

    def _end_epoch(self):
        total, n = self.state["epoch_loss"]
        self.baby.report["losses"]["epochs"].append({
            "epoch": self.step // self.data.steps_per_epoch, "step": self.step,
            "train": total / n, "val": self.baby.report["losses"]["evals"][-1]["val"]})
        self.state["epoch_loss"] = [0.0, 0]

    def _update_report(self, status):
        report, state = self.baby.report, self.state
        evals = report["losses"]["evals"]
        best = min(evals, key=lambda e: e["val"])
        kept = self._kept_eval()
        state["seconds"] = time.perf_counter() - self.clock
        report.update(
            status=status, n_params=self.baby.n_params,
            # the saved model's figures: the last step's, or the best evaluation's (keep)
            final={"step": self.step, "train_loss": kept["train"], "val_loss": kept["val"],
                   "best_val_loss": best["val"], "best_step": best["step"],
                   "kept": self.plan.keep,
                   "kept_step": kept["step"] if self.plan.keep == "best" else self.step,
                   "last_val_loss": evals[-1]["val"], "last_val_step": evals[-1]["step"],
                   "val_bits_per_char": bits_per_char(kept["val"], report["corpus"])},
            timings={"seconds": round(state["seconds"], 2),
                     "train_seconds": round(state["train_seconds"], 2),
                     "ms_per_step": round(1e3 * state["train_seconds"] / max(1, self.step), 2),
                     "tokens": state["tokens"],
                     "tokens_per_s": round(state["tokens"] / max(state["train_seconds"], 1e-9))})

    def _kept_eval(self):
        """The evaluation whose weights the saved model has: the best one (keep="best"),
        else the latest."""
        evals = self.baby.report["losses"]["evals"]
        if self.plan.keep == "best" and self.trainer.best is not None:
            return next(e for e in evals if e["step"] == self.state["best_step"])
        return evals[-1]

    def _kept_params(self):
        return (self.trainer.best_params() if self.plan.keep == "best" and
                self.trainer.best is not None else self.baby.params)

    def _save_model(self):
        """Write the model folder: the kept weights (the last step's or the best so far),
        in the plan's float type."""
        baby, to_numpy = self.baby, self.baby.backend.to_numpy
        arrays = {k: to_numpy(v) for k, v in self._kept_params().items()}
        write_model(self.folder, ModelParts(baby.config, baby.tokenizer, arrays,
                                            model_report(baby)), self.plan.weights_dtype)

    def _checkpoint(self, status="running"):
        """Save the run's state, and the kept weights as a usable model. A write the system
        refuses (no space left, say) leaves the last good checkpoint and model (their
        writes are atomic) and marks the run failed, with the reason, in its report."""
        good = self.state.get("checkpoint_step")
        self.state["checkpoint_step"] = self.step
        self._update_report(status)
        try:
            self._save_model()
            save_checkpoint(self.folder, self.trainer, {"run": self.state, "report": self.baby.report})
        except OSError as e:
            self.state["checkpoint_step"] = good
            why = f"failed at step {self.step}: the checkpoint could not be written ({e.strerror or e})"
            kept = (f"the last good checkpoint (step {good}) is kept" if good is not None
                    else "no checkpoint had been written yet")
            with contextlib.suppress(OSError):  # the report is small: it may still fit
                report = {**read_report(self.folder), "status": why}
                write_json(self.folder / REPORT, report)
            how = (f"`little-baby train --resume {self.folder}`" if on_cli() else
                   f"LittleBaby.resume({str(self.folder)!r})")
            raise TrainingError(f"{why}; {kept} in {self.folder}. Free some space, then "
                                f"continue with {how}.") from e

    def _diverged(self, what):
        """Go back to the last good checkpoint (kept in the folder) and stop."""
        step, lr = self.step, self.trainer.lr()
        good = self.state["checkpoint_step"]
        if good is not None:
            arrays, counters, state = load_checkpoint(self.folder)
            self.trainer.load_state_dict(arrays, counters)
            self.baby.report = state["report"]
            self.baby.report["status"] = f"diverged at step {step}"
            self._save_model()
        kept = ("no checkpoint had been written yet" if good is None else
                f"the last good checkpoint (step {good}) is kept in {self.folder} and its "
                f"weights are back in the model")
        raise TrainingDiverged(
            f"training diverged at step {step}: {what}; {kept}. Try a smaller "
            f"{spelled('r_learn')} (now {self.baby.config.r_learn:g}; the rate was {lr:.2e} at "
            f"that step) or a longer {spelled('s_warmup')}, then train again.")

    def _finish(self):
        report, baby = self.baby.report, self.baby
        if self.plan.keep == "best" and self.trainer.best is not None:
            baby.flat[...] = self.trainer.best  # the model in memory is the one saved
        saved = self.plan.weights_dtype
        if saved and numpy.dtype(saved).itemsize < baby.flat.dtype.itemsize:
            baby.flat[...] = baby.flat.astype(saved)  # rounded as saved: the same model
        self._update_report("complete")
        if report["final"]["kept"] == "best" and not on_cli():  # the command says it itself
            self._say(kept_note(report["final"]))
        report["finished"] = _now()
        baby.weights_dtype = self.plan.weights_dtype or baby.weights_dtype
        if plot_losses(report["losses"]["evals"], self.folder / LOSS_CURVE,
                       title=f"{self.baby.guid[:8]}: loss"):
            report["loss_curve"] = LOSS_CURVE
        else:
            report["loss_curve"] = None
            report["notes"] = ["matplotlib is not installed: no loss curve "
                               "(pip install 'little-baby[plot]')."]
            self._say(report["notes"][0])
        self._save_model()
        remove_checkpoint(self.folder)
        return report

    def _say(self, message):
        if not self.quiet:
            tqdm.write(message, file=sys.stderr)


def kept_note(final):
    """Which weights a run that keeps the best evaluation kept, in a sentence (from the
    report's "final")."""
    step, val = final["kept_step"], final["val_loss"]
    last = f"the last, at step {final['last_val_step']:,}, had {final['last_val_loss']:.4f}"
    if step == final["last_val_step"]:
        return f"kept the weights of step {step:,}, the best and last evaluation (validation {val:.4f})"
    if step == 0:
        return (f"kept the weights it started from (step 0, validation {val:.4f}): no later "
                f"evaluation was better ({last})")
    return f"kept the weights of step {step:,}, the best evaluation (validation {val:.4f}); {last}"


def progress_note(loss, last_eval, state):
    """The progress bar's note: this step's training loss, the latest validation loss
    with the step it was measured at (evaluations are every eval_interval steps), speed."""
    return (f"loss {loss:.3f}, val {last_eval['val']:.3f} at step {last_eval['step']:,}, "
            f"{state['tokens'] / max(state['train_seconds'], 1e-9):,.0f} tok/s")


# Ctrl-C, and what job schedulers and notebook hosts send before they stop a process
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _deferred_interrupt(say):
    """Yield an Event that the first Ctrl-C or SIGTERM sets, with the signal's number in
    its `signum` (the loop then checkpoints and stops between two steps, never inside
    one); a second one interrupts at once. Outside the main thread, where signals cannot
    be caught, it only yields the Event."""
    stop = threading.Event()
    stop.signum = signal.SIGINT
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.signum = signum
        stop.set()
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        say(f"{name}: stopping after this step with a checkpoint ({name} again stops at once).")

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
