"""What a notebook needs from its platform: where texts are read from and models written
to (Kaggle's /kaggle/input is read-only, its outputs belong in /kaggle/working; Colab's
/content, or a Google Drive folder that outlives the runtime), and the Hugging Face token
(a Kaggle or Colab secret, or huggingface_hub's)."""
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, CorpusError
from ..io.store.places import input_folders, store_dir, store_variable
from . import detect


STORE_FOLDER, OLDER_STORE_FOLDER = "models", "cache"  # a notebook's store in its work folder


@dataclass(frozen=True)
class Paths:
    """Where texts are read from and models written to on this platform."""
    work: Path  # writable: downloads and outputs
    models: Path  # the model store: pass it as `store=` to fit and from_pretrained
    inputs: tuple  # folders searched for texts, first first
    read_only: tuple  # the input folders that cannot be written (never write there)
    notes: tuple = ()

    def to_dict(self):
        return {"work": {"path": str(self.work), "writable": is_writable(self.work)},
                "models": {"path": str(self.models), "writable": is_writable(self.models)},
                "inputs": [{"path": str(p), "exists": p.is_dir(), "read_only": p in self.read_only}
                           for p in self.inputs],
                "notes": list(self.notes)}


def is_writable(path):
    """Whether files can be made in `path` (or, if it does not exist yet, where it would
    be made): not on a read-only file system (Kaggle's /kaggle/input is one) and
    writable by this user."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        return False
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except (AttributeError, OSError):  # Windows has no statvfs
        pass
    return os.access(path, os.W_OK | os.X_OK)


def notebook_store(work):
    """A notebook's model store: `work`/models, or `work`/cache where an older notebook
    made that (the store's folder before it was called the store) and it holds a model (a
    folder with a config.json); a ./cache that holds none may be anything else's."""
    older = Path(work) / OLDER_STORE_FOLDER
    return older if _holds_a_model(older) else Path(work) / STORE_FOLDER


def _holds_a_model(folder):
    try:
        return any((sub / "config.json").is_file() for sub in Path(folder).iterdir())
    except OSError:  # not there, not a folder, not readable
        return False


def platform_paths(platform=None, drive=None):
    """The Paths of `platform` (detected by default).

    Kaggle: texts from /kaggle/input/... (read-only), models under /kaggle/working.
    Colab: /content, or the Google Drive folder `drive` (a name under MyDrive) once it is
    mounted (see mount_drive). Elsewhere texts come from io/store/places.py's input folders
    ($LITTLE_BABY_INPUTS, ./inputs); a script's models go to the library's store
    (places.store_dir: $LITTLE_BABY_STORE, else ~/.cache/little_baby/models), a local
    notebook's to $LITTLE_BABY_STORE, else ./models beside it (notebook_store). A work
    folder that cannot be written falls back to a temporary one, with a note.
    """
    platform = platform or detect.detect_platform()
    notes = []
    if platform == "kaggle":
        work = detect.KAGGLE_WORKING
        inputs = [detect.KAGGLE_INPUT, work / "inputs"]
    elif platform == "colab":
        work = detect.COLAB_CONTENT if detect.COLAB_CONTENT.is_dir() else Path.cwd()
        if drive:
            folder = detect.COLAB_DRIVE / "MyDrive" / drive
            if (detect.COLAB_DRIVE / "MyDrive").is_dir():
                work = folder
            else:
                notes.append(f"Google Drive is not mounted, so {folder} is not used: "
                             f"platforms.mount_drive({str(drive)!r}) mounts it.")
        inputs = [work / "inputs", work]
    else:
        work = Path.cwd()
        inputs = [work / folder for folder in input_folders()]
    if platform == "script":
        models = store_dir()
    elif platform == "jupyter":
        models = store_dir() if store_variable() else notebook_store(work)
    else:
        models = notebook_store(work)
    if not is_writable(models):
        fallback = Path(tempfile.gettempdir()) / "little-baby"
        notes.append(f"{models} cannot be written (a read-only folder), so models go to "
                     f"{fallback / STORE_FOLDER}, which does not outlive the machine.")
        work, models = (fallback, fallback / STORE_FOLDER) if not is_writable(work) else (
            work, fallback / STORE_FOLDER)
    read_only = tuple(p for p in inputs if p.is_dir() and not is_writable(p))
    return Paths(work, models, tuple(dict.fromkeys(inputs)), read_only, tuple(notes))


def find_text(name, paths=None):
    """The path of the text `name`: a file that exists, else a file of that name in the
    platform's input folders (on Kaggle also inside an attached dataset,
    /kaggle/input/<dataset>/...). A CorpusError says where it looked."""
    paths = paths or platform_paths()
    if Path(name).is_file():
        return Path(name)
    for folder in paths.inputs:
        if not folder.is_dir():
            continue
        for depth in range(4):  # /kaggle/input/<owner>/<dataset>/<version>/name at most
            found = sorted(p for p in folder.glob("*/" * depth + Path(name).name) if p.is_file())
            if found:
                return found[0]
    where = ", ".join(str(p) for p in paths.inputs)
    raise CorpusError(f"no text {str(name)!r}: it is not a file, nor in {where}. Give its "
                      f"path, or add it (Kaggle: 'Add Input'; Colab: the Files pane).")


def mount_drive(folder="little-baby"):
    """On Colab, mount Google Drive (Colab asks for permission) and return the folder
    MyDrive/<folder>, made if need be: models written there outlive the runtime."""
    try:
        from google.colab import drive
    except ImportError as e:
        raise ConfigError("Google Drive can be mounted on Colab only; leave the Drive folder "
                          "empty elsewhere.") from e
    drive.mount(str(detect.COLAB_DRIVE))
    path = detect.COLAB_DRIVE / "MyDrive" / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- the Hugging Face token ---------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """A Hub token (never printed), where it came from, or what to do to have one."""
    value: str | None = field(default=None, repr=False)
    source: str | None = None
    advice: str | None = None

    def to_dict(self):
        return {"found": self.value is not None, "source": self.source, "advice": self.advice}


SECRET_ADVICE = {
    "kaggle": "add a secret named HF_TOKEN (Add-ons > Secrets), tick it for this notebook, and "
              "run again",
    "colab": "add a secret named HF_TOKEN (the key icon on the left) and give this notebook "
             "access to it, or run `from huggingface_hub import login; login()`",
}


def hub_token(platform=None):
    """The Hugging Face token of this platform: on Kaggle its secret HF_TOKEN
    (kaggle_secrets.UserSecretsClient), else what huggingface_hub.get_token finds
    (the HF_TOKEN variable, Colab's HF_TOKEN secret, the file `hf auth login` writes).
    A missing or unreadable secret is no error: the Token says how to add it."""
    platform = platform or detect.detect_platform()
    problem = ""
    if platform == "kaggle":
        try:
            from kaggle_secrets import UserSecretsClient
            value = UserSecretsClient().get_secret("HF_TOKEN")
            if value:
                return Token(value, "the Kaggle secret HF_TOKEN")
        except Exception as e:  # no such module, no secret, not attached to this notebook
            problem = f"the Kaggle secret HF_TOKEN could not be read ({type(e).__name__}: {e}); "
    from huggingface_hub import get_token
    value = get_token()
    if value:
        return Token(value, "huggingface_hub.get_token (HF_TOKEN, a Colab secret or "
                            "`hf auth login`)")
    todo = SECRET_ADVICE.get(platform, "set HF_TOKEN, or run `hf auth login`")
    return Token(None, None, f"No Hugging Face token: {problem}{todo}.")

