"""Every error that is the user's to fix (bad input, settings or files), in one place.

All derive from BabyError; the command line prints them as one clear message, without
a traceback. Each also derives from the built-in error it refines (ValueError,
LookupError ...), so code that catches those keeps working.

A message names a setting as the user gives it where the message is shown: `spelled`
gives the Python name (n_ctx, unknown='drop') in Python and the option (--n-ctx,
--drop-unknown) under the command line, which sets SURFACE for the command's life.
"""
import contextvars
import signal

SURFACE = contextvars.ContextVar("little_baby_surface", default="python")
# Python names whose option is not their kebab-case spelling (--n-ctx for n_ctx)
CLI_SPELLINGS = {"c_device": "--device", "unknown='drop'": "--drop-unknown",
                 "max_new_tokens": "--max-tokens"}


def spelled(name):
    """`name` (a config key or a Python argument) as the user writes it here: itself in
    Python, its option (n_ctx -> --n-ctx) under the command line."""
    if SURFACE.get() != "cli":
        return name
    return CLI_SPELLINGS.get(name) or "--" + name.replace("_", "-")


def on_cli():
    """Whether the message being made will be shown by the `little-baby` command."""
    return SURFACE.get() == "cli"


class BabyError(Exception):
    """Something the user can fix; the message says what and how."""


# ---- settings and text ------------------------------------------------------------------
class ConfigError(BabyError, ValueError):
    """A setting has an unknown name or an impossible value."""


class TokenizerError(BabyError, ValueError):
    """Text the tokenizer cannot encode, or a tokenizer file it cannot read."""


# ---- the engine -------------------------------------------------------------------------
class BackendError(BabyError, RuntimeError):
    """The requested device or float type cannot be used here."""


class WeightsError(BabyError, ValueError):
    """Weights that do not fit the model's config (missing, extra or misshapen keys), or a
    weights file that cannot be read."""


class ContextError(BabyError, ValueError):
    """More tokens than the model's context window holds."""


class GenerationError(BabyError, ValueError):
    """Generation settings that cannot be used."""


# ---- files, the model store and the Hub --------------------------------------------------
class ModelFolderError(BabyError, FileNotFoundError):
    """A folder that is not (or not all of) a saved model."""


class FolderTakenError(BabyError, FileExistsError):
    """A folder that cannot become this run's model folder: another live run (training or
    conversion) holds it, named in the message, or it holds files that are not a model."""


class StoreError(BabyError, LookupError):
    """A GUID that is malformed, or a model that is not in the model store."""


CacheError = StoreError  # its name before the model store was called the store


class ShippedModelError(StoreError, PermissionError):
    """A write, deletion or training aimed at a model shipped with the package (read-only
    to the library), or a model store that would be the shipped models' folder."""


class CheckpointError(BabyError, ValueError):
    """A missing, unreadable or foreign checkpoint."""


class HubError(BabyError, RuntimeError):
    """A Hub request that failed; the message says what happened and what to do."""


class NotCachedError(HubError):
    """Offline (or no network), and the model is not on this machine."""


class FileTooBigError(BabyError, ValueError):
    """A file on the Hub over the size limit a fetch was given for it (limits=), refused
    before anything was downloaded."""


class ModelNotFoundError(StoreError):
    """A name that is no model folder, GUID, age or repo id; or a model that is nowhere
    (a StoreError too: code that catches "not in the store" keeps working)."""


class DatasetError(BabyError, RuntimeError):
    """A named data set (tools/datasets.py) that cannot be downloaded, or a file that is not
    the data set it should be (its sha256 differs)."""


class NotEnoughMemoryError(BabyError, MemoryError):
    """A training step or a generation that would need more memory than this machine has
    (estimated before anything is allocated); the message says how much of each."""


class ConversionError(BabyError, ValueError):
    """A model another library's format (transformers' GPT-2: io/formats/gpt2.py) cannot express
    exactly, one of theirs ours cannot, or that library not installed; the message names
    what cannot be expressed and what to do."""


# ---- training ---------------------------------------------------------------------------
class CorpusError(BabyError, ValueError):
    """A training text that cannot be used (missing, not UTF-8, empty or too small)."""


class TrainingError(BabyError, ValueError):
    """A run that cannot start or continue: bad settings or plan, folder taken, corpus
    changed."""


class TrainingDiverged(TrainingError):
    """The loss became nan/inf or grew far past where it started."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run after it wrote a checkpoint; the message says how
    to resume, `signum` which signal it was."""

    def __init__(self, message, signum=signal.SIGINT):
        super().__init__(message)
        self.signum = signum
