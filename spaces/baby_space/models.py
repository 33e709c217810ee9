"""The models the Space offers: the choices in its picker, each model loaded once (as
LittleBaby.from_pretrained does: the library's locate, then load_located) and kept, and
the summary shown beside the picker.

A visitor may also type any name from_pretrained takes (a GUID or a Hub repo id). Paths
on the server's disk open only when they are among the choices the Space was started
with (the page and the API know those by a short key, never by their path), and a GUID a
visitor types is fetched from the Hub repo, never read from the server's own model store
(and must be whole: the library completes a GUID's start from that store), so a public
Space cannot be made to read its own folders, learn where they are or what they hold.

What keeps the shelf alive under visitors (ShelfLimits, each settable in the
environment): the library's fetch is given a limit for every file it may download
(hub_limits) and checks each against the Hub's file metadata before any is downloaded,
and a folder's weights, config and tokenizer are checked before they are read; the
models kept loaded hold at most so many bytes of parameters (the least recently used
goes first, and its memory is given back); a model refused is refused again at once for
a while, without a second try; each model loads under its own lock (one model loading
never blocks using or loading another, and two visitors asking for one model load it
once) and a visitor waits for a load at most `load_seconds`; a Hub download runs in a
process of its own (fetch.py), ended after `download_seconds` with its partial files
removed.

A library error reaches a visitor without its advice to whoever runs the library (a
command to type, a Python argument, an environment variable), with what a visitor can do
instead (`for_visitor`).
"""
import gc
import os
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

from little_baby import LittleBaby
from little_baby.engine.backend import gpu_usable
from little_baby.errors import (BabyError, BackendError, HubError, NotCachedError,
                                StoreError)
from little_baby.io.hub.fetch import FETCHED_FILES, MODEL_FILES, default_repo, load_located
from little_baby.io.store import resolve
from little_baby.io.store.ages import AGES, DEFAULT_AGE
from little_baby.io.store.model_folder import WEIGHTS
from little_baby.io.store.report import corpus_name

from .fetch import DownloadFailed, fetch

MODELS_ENV = "LITTLE_BABY_SPACE_MODELS"  # the picker's choices, separated by os.pathsep
DEVICE_ENV = "LITTLE_BABY_SPACE_DEVICE"  # auto (the default), cpu or gpu
FOLDERS = Path(__file__).resolve().parents[1] / "models"  # model folders deployed with the app
KEEP = 6  # models kept in memory at most; the least recently used goes first
MiB = 2 ** 20


class Choice(NamedTuple):
    label: str  # what the picker shows
    name: str   # what from_pretrained gets (a folder's path stays on the server)
    key: str = ""  # what the page and the API call it: the name, or a folder's own name

    @property
    def value(self):
        return self.key or self.name


class ModelUnavailable(Exception):
    """A model that cannot be opened; the message says why (shown to the visitor as is:
    it never holds a path on the server)."""


def age_choices():
    """The original project's five age models: '48 months · <guid>' -> 'age-48-months'."""
    return [Choice(f"{a.months} months · {a.guid}", a.name) for a in AGES.values()]


def choice_for(name):
    """The Choice of any model name: an age by its months and GUID, a folder by its name
    (its key, what the page shows and sends back instead of its path)."""
    name = str(name)
    age = AGES.get(name)
    if age is not None:
        return Choice(f"{age.months} months · {age.guid}", age.name)
    if os.path.isdir(name):
        key = Path(name).resolve().name
        return Choice(f"{key} (folder)", name, key)
    return Choice(name, name)


def choices_from_env(environ=os.environ, folders=FOLDERS):
    """The choices $LITTLE_BABY_SPACE_MODELS lists (os.pathsep between names), else the ages
    and the model folders deployed beside the app (models/<name>/, `little-baby space
    deploy --model`)."""
    names = [n.strip() for n in environ.get(MODELS_ENV, "").split(os.pathsep) if n.strip()]
    if names:
        return [choice_for(n) for n in names]
    deployed = sorted(p for p in Path(folders).iterdir() if (p / "config.json").is_file()) \
        if Path(folders).is_dir() else []
    return age_choices() + [choice_for(str(p)) for p in deployed]


# ---- no server path in a message ------------------------------------------------------------
_PATH = re.compile(r"""(?<![\w:/.~-])~?/[^\s'"`,;()\[\]{}<>]+""")


def public(message):
    """`message` with every absolute path in it replaced by '(server folder)': what a
    visitor may read. Repo ids (owner/name) and URLs are kept."""
    return _PATH.sub("(server folder)", str(message))


# the library's advice to whoever runs it, as the library words it, and what is kept of it
_ADVICE = [(re.compile(pattern), kept) for pattern, kept in (
    # a parenthesis holding a `command` or a call(...)
    (r"\s*\((?:[^()]|\([^()]*\))*?(?:`|\w\([^()]*\))(?:[^()]|\([^()]*\))*\)", ""),
    (r"\s*Download it while online\b.*", ""),               # what to download, to the end
    (r";\s*another repo: .*", "."),                          # repo=... or $LITTLE_BABY_REPO
    (r":\s*log in or pass token=", ""),                      # a repo it cannot see
    (r"\.?\s*Log in with `hf auth login`.*?token=", ""),     # a token the Hub refused
    (r",\s*or raise limits\[[^\]]*\]", ""),                   # a file over the Space's limit
)]


def for_visitor(error):
    """A library error's message as a visitor of the Space reads it: no server path, none
    of the library's advice to whoever runs it, and what a visitor can do instead."""
    message = public(error)
    for pattern, kept in _ADVICE:
        message = pattern.sub(kept, message)
    if isinstance(error, NotCachedError):
        return f"{message} This Space cannot download it now: choose a model from the list."
    if isinstance(error, HubError):
        return f"{message} Try again later."
    if isinstance(error, StoreError):
        return f"{message} {CHOOSE}"
    return message


CHOOSE = "Choose a model from the list, or type a GUID or a Hub repo id."


def cannot_open(key, error):
    """'Cannot open KEY: why', for a library error."""
    return f"Cannot open {key}: {for_visitor(error)}"


# ---- the limits ------------------------------------------------------------------------------
def _bytes(text, name):
    """A size from the environment: a whole number of bytes, or with K, M, G (binary)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", str(text), re.I)
    if not m:
        raise ValueError(f"${name} must be a size in bytes such as 268435456, 256M or 1G, "
                         f"not {text!r}.")
    return int(m.group(1)) * 1024 ** "_KMG".index(m.group(2).upper() or "_")


def _seconds(text, name):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"${name} must be a number of seconds > 0, not {text!r}.")
    return value


@dataclass(frozen=True)
class ShelfLimits:
    """What the shelf holds and how long it waits. Each can be set in the environment:
    LITTLE_BABY_SPACE_<NAME IN CAPITALS> (sizes as 268435456, 256M or 1G)."""

    max_model_bytes: int = 256 * MiB     # one weights file (on the Hub or on disk)
    max_json_bytes: int = 16 * MiB       # one config, tokenizer or report file
    max_image_bytes: int = 4 * MiB       # a loss curve (loss_curve.png) on the Hub
    max_loaded_bytes: int = 1024 * MiB   # the parameters of every model kept loaded
    max_forward_bytes: int = 512 * MiB   # what one pass over a whole context may hold
    load_seconds: float = 120.0          # a visitor waits at most this for a load
    download_seconds: float = 300.0      # a Hub download is ended after this
    refusal_seconds: float = 600.0       # a refused model stays refused this long
    retry_seconds: float = 30.0          # ... one the Hub failed on, or that took too long

    @classmethod
    def from_env(cls, environ=os.environ):
        values = {}
        for f in fields(cls):
            name = f"LITTLE_BABY_SPACE_{f.name.upper()}"
            if environ.get(name, "").strip():
                read = _bytes if f.name.endswith("bytes") else _seconds
                values[f.name] = read(environ[name], name)
        return cls(**values)

    def file_limit(self, name):
        """The most bytes of a model's file `name`: weights, an image, or JSON and text."""
        return (self.max_model_bytes if name == WEIGHTS else
                self.max_image_bytes if name.endswith(".png") else self.max_json_bytes)

    def hub_limits(self):
        """The library fetch's limits=: file_limit of each file it may download."""
        return {name: self.file_limit(name) for name in FETCHED_FILES}


def mib(n):
    return f"{n / MiB:,.1f} MiB"


def forward_bytes(cfg):
    """About what one forward pass over a whole context holds at its peak: every layer
    keeps its heads' T x T attention weights until the pass ends (measured: 4.4 bytes
    a weight with 64 layers x 1,024 heads; 8 leaves room for a layer's own scratch)."""
    return 8 * cfg.n_layers * cfg.n_heads * cfg.n_ctx ** 2


def pick_device(setting="auto"):
    """'gpu' or 'cpu' for a setting of auto, cpu or gpu."""
    setting = (setting or "auto").lower()
    if setting not in ("auto", "cpu", "gpu"):
        raise ValueError(f"${DEVICE_ENV} must be auto, cpu or gpu, not {setting!r}.")
    return "gpu" if setting == "gpu" or (setting == "auto" and gpu_usable()) else "cpu"


class Shelf:
    """The Space's models: `choices` (a list of Choice) for the picker, and `get(name)`,
    which loads a model once, within `limits` (ShelfLimits), and keeps the last used."""

    def __init__(self, choices=None, device=None, limits=None, keep=KEEP, loaders=4):
        self.choices = list(choices) if choices is not None else choices_from_env()
        self.device = pick_device(device or os.environ.get(DEVICE_ENV, "auto"))
        self.limits = limits if limits is not None else ShelfLimits.from_env()
        self.keep = keep
        self._named = {c.value: c for c in self.choices}
        if len(self._named) < len(self.choices):
            twice = sorted({c.value for c in self.choices
                            if sum(d.value == c.value for d in self.choices) > 1})
            raise ValueError(f"${MODELS_ENV} offers more than one model called "
                             f"{', '.join(twice)}: give each folder its own name.")
        self._folders = {c.name for c in self.choices}
        self._models = OrderedDict()  # key -> (LittleBaby, bytes of its parameters)
        self._loading = {}            # key -> the Future of its load: one load per model
        self._refused = OrderedDict()  # key -> (message, until when, monotonic)
        self._lock = threading.Lock()  # guards the three dicts; never held while loading
        self._pool = ThreadPoolExecutor(loaders, thread_name_prefix="space-load")
        self.loads = 0  # loads started (a refusal remembered starts none)

    @property
    def default(self):
        """The key picked when the page opens: the oldest age if offered, else the first."""
        keys = [c.value for c in self.choices]
        return DEFAULT_AGE if DEFAULT_AGE in keys else (keys[0] if keys else None)

    def label(self, key):
        choice = self._named.get(key)
        return choice.label if choice else key

    @property
    def loaded_bytes(self):
        with self._lock:
            return sum(n for _, n in self._models.values())

    def get(self, name, wait=None):
        """The LittleBaby `name` (a choice's key, a GUID or a Hub repo id) names; a
        ModelUnavailable that says why when it cannot be had. Waits for the model's own
        load only, at most `wait` seconds (default limits.load_seconds); the load goes
        on after that, and a later get has it."""
        key = self._key(name)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
            refused = self._refused.get(key)
            if refused is not None and refused[1] > time.monotonic():
                raise ModelUnavailable(refused[0])
            future = self._loading.get(key)
            if future is None:
                self.loads += 1
                future = self._loading[key] = self._pool.submit(self._load_and_keep, key)
        wait = min(self.limits.load_seconds, self.limits.load_seconds if wait is None else wait)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            raise ModelUnavailable(
                f"{key} is still downloading or loading after {wait:g} s; try again in a "
                f"minute (it goes on loading meanwhile).") from None

    def _key(self, name):
        if not isinstance(name, str):
            raise ModelUnavailable(f"A model's name is text (an age, a GUID or a Hub repo id), "
                                   f"not {type(name).__name__}.")
        key = name.strip()
        if not key:
            raise ModelUnavailable("Choose a model: an age from the list, a GUID or a Hub repo id.")
        if len(key) > 200:
            raise ModelUnavailable(f"A model's name has at most 200 characters; this one has "
                                   f"{len(key):,}.")
        if key not in self._named and (os.path.isabs(key) or key.startswith(("~", "."))
                                       or os.path.exists(key)):
            raise ModelUnavailable("That is a path, and this Space opens only the folders it "
                                   "was started with; give an age, a GUID or a Hub repo id.")
        return key

    def _load_and_keep(self, key):
        """Load `key` (in a loader thread), keep it, and drop the least recently used models
        beyond the limits; a refusal is remembered."""
        try:
            baby = self._load(key, self._parse(key))
            nbytes = sum(int(a.nbytes) for a in baby.params.values())
            cfg, need = baby.config, forward_bytes(baby.config)
            if need > self.limits.max_forward_bytes:
                raise ModelUnavailable(
                    f"{key} would need about {mib(need)} for one pass over its context "
                    f"({cfg.n_layers} layers × {cfg.n_heads} heads × {cfg.n_ctx}² attention "
                    f"weights); this Space allows {mib(self.limits.max_forward_bytes)}.")
            if nbytes > self.limits.max_loaded_bytes:
                raise ModelUnavailable(
                    f"{key} holds {mib(nbytes)} of parameters, more than this Space keeps "
                    f"loaded ({mib(self.limits.max_loaded_bytes)}).")
        except ModelUnavailable as e:
            self._refuse(key, e, self.limits.refusal_seconds)
            raise
        except _Transient as e:
            self._refuse(key, e, self.limits.retry_seconds)
            raise ModelUnavailable(str(e)) from None
        except Exception as e:  # a file gone meanwhile, a bug: said, and tried again soon
            self._refuse(key, f"Cannot open {key}: {type(e).__name__}: {public(e)}",
                         self.limits.retry_seconds)
            raise ModelUnavailable(f"Cannot open {key}: {type(e).__name__}: {public(e)}") from e
        except BaseException:
            with self._lock:
                self._loading.pop(key, None)
            raise
        dropped = []
        with self._lock:
            self._loading.pop(key, None)
            self._models[key] = (baby, nbytes)
            total = sum(n for _, n in self._models.values())
            while len(self._models) > 1 and (len(self._models) > self.keep
                                             or total > self.limits.max_loaded_bytes):
                _, (old, n) = self._models.popitem(last=False)
                dropped.append(old)
                total -= n
        if dropped:
            del dropped, old
            gc.collect()  # the dropped models' arrays go back now, not at some later collection
        return baby

    def _refuse(self, key, error, seconds):
        with self._lock:
            self._loading.pop(key, None)
            self._refused[key] = (str(error), time.monotonic() + seconds)
            self._refused.move_to_end(key)
            while len(self._refused) > 1000:  # many names tried: the oldest refusals go
                self._refused.popitem(last=False)

    def _parse(self, key):
        """The resolve.Name of `key`: a choice's name, or what a visitor typed, whose GUID
        must be whole: the library completes a start from the server's own store, whose
        GUIDs (its owner's models) a visitor must not learn."""
        choice = self._named.get(key)
        try:
            return resolve.parse(choice.name if choice else key,
                                 complete_guid_starts=choice is not None)
        except BabyError as e:
            raise ModelUnavailable(cannot_open(key, e)) from e

    def _load(self, key, parsed):
        """The model of resolve.Name `parsed` as a LittleBaby: a folder on this machine,
        else fetched by the library within hub_limits, in a process ended after
        limits.download_seconds (fetch.py). A GUID a visitor typed is fetched from the Hub
        repo (from_pretrained's repo=), never read from the server's own model store. The
        folder's files are sized before they are read (_within)."""
        visitors_guid = key not in self._named and parsed.kind == "guid" and parsed.age is None
        repo = default_repo() if visitors_guid else None
        try:
            folder = None if repo else resolve.local_folder(parsed)
            located = (folder, parsed.guid, None) if folder else fetch(
                parsed.guid or parsed.repo_id, repo, parsed.repo_id or default_repo(),
                self.limits.download_seconds, self.limits.hub_limits())
            self._within(key, located[0])
            if self.device == "gpu":
                try:
                    return load_located(LittleBaby, located, c_device="gpu")
                except BackendError:  # CuPy there but unusable for this model: stay on the CPU
                    self.device = "cpu"
            return load_located(LittleBaby, located)
        except ModelUnavailable:
            raise
        except HubError as e:  # the Hub failed or cannot be reached: worth a new try later
            raise _Transient(cannot_open(key, e)) from e
        except BabyError as e:
            raise ModelUnavailable(cannot_open(key, e)) from e
        except DownloadFailed as e:
            raise _Transient(f"Cannot open {key}: {e}. Try again later.") from e
        except MemoryError as e:
            raise ModelUnavailable(f"Cannot open {key}: it needs more memory than this Space "
                                   f"has.") from e
        except Exception as e:  # e.g. a network failure the client did not wrap
            raise _Transient(f"Cannot open {key}: {type(e).__name__}: {public(e)}") from e

    def _within(self, key, folder):
        """Refuse a model folder whose weights, config or tokenizer is over its limit,
        before any is read."""
        for name in MODEL_FILES:
            path, limit = Path(folder) / name, self.limits.file_limit(name)
            size = path.stat().st_size if path.is_file() else 0
            if size > limit:
                what = "weights file" if name == WEIGHTS else "file"
                raise ModelUnavailable(
                    f"{key} is too big for this Space: its {what} {name} has {mib(size)}, and "
                    f"this Space takes at most {mib(limit)} (nothing was read).")


class _Transient(Exception):
    """A failure worth trying again soon (the Hub failed or was not reached)."""


# ---- the summary beside the picker -------------------------------------------------------
def model_summary(name, baby):
    """Markdown: the model's numbers (parameters, context, validation loss) and how it was
    trained, from its config and report.json, which its model card is made from."""
    cfg, report = baby.config, baby.report or {}
    age = AGES.get(name)
    guid = baby.guid or (age.guid if age else None)
    title = f"{age.months} months ({age.name})" if age else name
    rows = [("parameters", f"{baby.n_params:,}"),
            ("context", f"{cfg.n_ctx} {position_unit(baby)}s"),
            ("layers × heads", f"{cfg.n_layers} × {cfg.n_heads}, embedding width {cfg.n_emb}"),
            ("attention · network", f"{cfg.c_attention} · {cfg.c_network}"),
            ("vocabulary", baby.tokenizer.describe())]
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


def position_unit(baby):
    """What one of the model's positions holds: a character, or a token."""
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
    if corpus_name(corpus):
        size = f" ({corpus['n_chars']:,} characters)" if corpus.get("n_chars") else ""
        parts.append(f"on {corpus_name(corpus)}{size}")
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
