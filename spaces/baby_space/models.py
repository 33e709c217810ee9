"""The models the Space offers: the choices in its picker, each model loaded once (through
LittleBaby.from_pretrained) and kept, and the summary shown beside the picker.

A visitor may also type any name from_pretrained takes (a GUID or a Hub repo id). Paths
on the server's disk open only when they are among the choices the Space was started
with, so a public Space cannot be made to read its own folders.
"""
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

from little_baby import LittleBaby
from little_baby.errors import BabyError, BackendError
from little_baby.io.ages import AGES, DEFAULT_AGE

MODELS_ENV = "LITTLE_BABY_SPACE_MODELS"  # the picker's choices, separated by os.pathsep
DEVICE_ENV = "LITTLE_BABY_SPACE_DEVICE"  # auto (the default), cpu or gpu
KEEP = 6  # models kept in memory; the oldest used goes first


class Choice(NamedTuple):
    label: str  # what the picker shows
    name: str   # what from_pretrained gets


class ModelUnavailable(Exception):
    """A model that cannot be opened; the message says why (shown to the visitor as is)."""


def age_choices():
    """The original project's five age models: '48 months · <guid>' -> 'age-48-months'."""
    return [Choice(f"{a.months} months · {a.guid}", a.name) for a in AGES.values()]


def choice_for(name):
    """The Choice of any model name: an age by its months and GUID, a folder by its name."""
    name = str(name)
    age = AGES.get(name)
    if age is not None:
        return Choice(f"{age.months} months · {age.guid}", age.name)
    if os.path.isdir(name):
        return Choice(f"{Path(name).name} (folder)", name)
    return Choice(name, name)


def choices_from_env(environ=os.environ):
    """The choices $LITTLE_BABY_SPACE_MODELS lists (os.pathsep between names), else the ages."""
    names = [n.strip() for n in environ.get(MODELS_ENV, "").split(os.pathsep) if n.strip()]
    return [choice_for(n) for n in names] if names else age_choices()


def gpu_available():
    """True when CuPy is installed and sees a CUDA GPU."""
    try:
        import cupy
        return bool(cupy.cuda.is_available())
    except Exception:  # not installed, or CUDA fails to start: the CPU it is
        return False


def pick_device(setting="auto"):
    """'gpu' or 'cpu' for a setting of auto, cpu or gpu."""
    setting = (setting or "auto").lower()
    if setting not in ("auto", "cpu", "gpu"):
        raise ValueError(f"${DEVICE_ENV} must be auto, cpu or gpu, not {setting!r}.")
    return "gpu" if setting == "gpu" or (setting == "auto" and gpu_available()) else "cpu"


class Shelf:
    """The Space's models: `choices` (a list of Choice) for the picker, and `get(name)`,
    which loads a model once and keeps the last KEEP used."""

    def __init__(self, choices=None, device=None, keep=KEEP):
        self.choices = list(choices) if choices is not None else choices_from_env()
        self.device = pick_device(device or os.environ.get(DEVICE_ENV, "auto"))
        self.keep = keep
        self._models = OrderedDict()
        self._lock = threading.Lock()

    @property
    def default(self):
        """The name picked when the page opens: the oldest age if offered, else the first."""
        names = [c.name for c in self.choices]
        return DEFAULT_AGE if DEFAULT_AGE in names else (names[0] if names else None)

    def get(self, name):
        """The LittleBaby `name` names; a ModelUnavailable that says why when it cannot be had."""
        name = (name or "").strip()
        if not name:
            raise ModelUnavailable("Choose a model: an age from the list, a GUID or a Hub repo id.")
        if os.path.exists(name) and name not in {c.name for c in self.choices}:
            raise ModelUnavailable(f"{name!r} is a path on this server, and this Space opens only "
                                   f"the folders it was started with; give an age, a GUID or a "
                                   f"Hub repo id.")
        with self._lock:  # one load at a time: two visitors asking for one model load it once
            if name not in self._models:
                self._models[name] = self._load(name)
                while len(self._models) > self.keep:
                    self._models.popitem(last=False)
            self._models.move_to_end(name)
            return self._models[name]

    def _load(self, name):
        try:
            if self.device == "gpu":
                try:
                    return LittleBaby.from_pretrained(name, c_device="gpu")
                except BackendError:  # CuPy there but unusable for this model: stay on the CPU
                    self.device = "cpu"
            return LittleBaby.from_pretrained(name)
        except BabyError as e:
            raise ModelUnavailable(f"Cannot open {name}: {e}") from e
        except Exception as e:  # e.g. a network failure the client did not wrap
            raise ModelUnavailable(f"Cannot open {name}: {type(e).__name__}: {e}") from e


# ---- the summary beside the picker -------------------------------------------------------
def model_summary(name, baby):
    """Markdown: the model's numbers (parameters, context, validation loss) and how it was
    trained, from its config and report.json, which its model card is made from."""
    cfg, report = baby.config, baby.report or {}
    age = AGES.get(name)
    guid = baby.guid or (age.guid if age else None)
    title = f"{age.months} months ({age.name})" if age else name
    rows = [("parameters", f"{baby.n_params:,}"),
            ("context", f"{cfg.n_ctx} {_unit(baby)}s"),
            ("layers × heads", f"{cfg.n_layers} × {cfg.n_heads}, embedding width {cfg.n_emb}"),
            ("attention · network", f"{cfg.c_attention} · {cfg.c_network}"),
            ("vocabulary", f"{baby.tokenizer.vocab_size} {_unit(baby)}s")]
    loss = _loss(report)
    if loss:
        rows.append(("validation loss", loss))
    trained = _training(report)
    if trained:
        rows.append(("trained", trained))
    if baby.parent_guid:
        rows.append(("finetuned from", f"`{baby.parent_guid}`"))
    if report.get("status") not in (None, "complete"):
        rows.append(("status", f"{report['status']} (training has not finished)"))
    rows.append(("runs on", baby.backend.device.upper()))
    lines = [f"**{title}**" + (f" · GUID `{guid}`" if guid else ""), ""] + [
        f"- **{k}**: {v}" for k, v in rows]
    about = (report.get("card") or {}).get("about")
    if about:
        lines += ["", about]
    return "\n".join(lines)


def model_card(baby):
    """The body of the model folder's card (README.md) without its YAML header and its
    images, or None when the folder has none."""
    folder = (baby.source or {}).get("folder")
    card = Path(folder) / "README.md" if folder else None
    if card is None or not card.is_file():
        return None
    text = card.read_text(encoding="utf-8")
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # the Hub's metadata
    return re.sub(r"^!\[[^\]]*\]\([^)]*\)\s*$", "", text, flags=re.M).strip() or None


def _unit(baby):
    return "character" if baby.config.c_tokenizer == "char" else "token"


def _loss(report):
    heldout, final = report.get("heldout"), report.get("final") or {}
    if heldout and heldout.get("loss") is not None:
        bits = heldout.get("bits_per_token")
        return (f"{heldout['loss']:.3f} nats per symbol on all the held-out text"
                + (f" ({bits:.3f} bits)" if bits is not None else ""))
    if final.get("val_loss") is not None:
        return f"{final['val_loss']:.3f} nats per symbol (a sample of the held-out text)"
    return None


def _training(report):
    corpus = report.get("corpus") or {}
    plan = (report.get("settings") or {}).get("plan") or {}
    final, timings = report.get("final") or {}, report.get("timings") or {}
    hardware = report.get("hardware") or {}
    parts = []
    if corpus.get("path"):
        size = f" ({corpus['n_chars']:,} characters)" if corpus.get("n_chars") else ""
        parts.append(f"on {Path(corpus['path']).name}{size}")
    if plan.get("n_epochs") and not plan.get("max_iters"):
        parts.append(f"{plan['n_epochs']} epoch{'s' if plan['n_epochs'] != 1 else ''}")
    if final.get("step"):
        parts.append(f"{final['step']:,} steps")
    if timings.get("seconds"):
        where = hardware.get("device", "").upper()
        cores = hardware.get("cpu_count") if where == "CPU" else None
        on = f" on {where}" + (f", {cores} cores" if cores else "") if where else ""
        parts.append(f"{timings['seconds'] / 60:.0f} min{on}")
    return ", ".join(parts) or None
