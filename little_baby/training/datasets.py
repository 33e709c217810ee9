"""The named data sets (the training texts the README, the tests and the age models use):
where each comes from, its sha256, and getting it into inputs/ with the sha256 checked.

The command is tools/datasets.py (`python -m little_baby.tools.datasets shakespeare`);
inputs/README.md says the same for people. A download is read whole, checked, then
written atomically (io/store/files.py), so inputs/ never holds a partial or a wrong file;
a file already there is checked and never overwritten.
"""
import hashlib
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

from ..errors import DatasetError
from ..io.store.files import write_bytes_atomic
from ..io.store.places import INPUTS_ENV, input_folders

DOWNLOAD_TIMEOUT = 30  # seconds without an answer before a download counts as failed


class Dataset(NamedTuple):
    name: str
    file: str            # its name in inputs/
    source: str          # where it comes from, for people
    url: str | None      # where it downloads from (None: no known public copy)
    sha256: str          # of the file as it downloads (or as this project has it)
    size: int            # bytes
    variants: dict = {}  # other sha256s of the same text -> what differs


DATASETS = {d.name: d for d in (
    Dataset("shakespeare", "shakespeare.txt",
            "Tiny Shakespeare: about 40,000 lines of Shakespeare's plays that Andrej Karpathy "
            "put together for char-rnn (github.com/karpathy/char-rnn, "
            "data/tinyshakespeare/input.txt), also used by nanoGPT",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
            "input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394,
            {"53493bf304b639aba6a47400da75c58ce32372b378fd2cd9d16ee987aeb12e4e":
             "the same text without its last newline (1,115,393 bytes): the copy this "
             "project's packaged and age models were trained on"}),
    Dataset("sophocles", "sophocles.txt",
            "Sophocles' Theban plays in modern Greek (Antigone, then by their characters "
            "Oedipus the King and Oedipus at Colonus; 283,822 characters, 508,910 bytes of "
            "UTF-8, beginning 'ΑΝΤΙΓΟΝΗ'), the finetuning text of this project's tests; "
            "its translator and where this copy was published are not known, so it cannot "
            "be downloaded",
            None, "fdfbc0ca50e0358a1e22611142b001c018352a8efc5ce6869dbdc1197e000d84", 508910),
)}


def inputs_dir(inputs=None):
    """Where data sets go: `inputs`, else the first of places.input_folders()
    ($LITTLE_BABY_INPUTS, else ./inputs), where training.data.find_input looks."""
    return Path(inputs) if inputs else input_folders()[0]


def dataset(name):
    """The Dataset called `name` ('shakespeare', or its file name 'shakespeare.txt')."""
    found = DATASETS.get(name) or next((d for d in DATASETS.values() if d.file == name), None)
    if found is None:
        raise DatasetError(f"no data set {name!r}; the data sets are {', '.join(DATASETS)}.")
    return found


def identify(sha256):
    """(Dataset, what differs or None) of a text with this sha256, or None: how a report
    can name its corpus by what it is rather than by a path on one machine."""
    for d in DATASETS.values():
        if sha256 == d.sha256 or sha256 in d.variants:
            return d, d.variants.get(sha256)
    return None


def file_sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check(name, inputs=None):
    """The path of data set `name` in inputs/ if its sha256 is a known one; a
    DatasetError that says how to get it when it is missing or different."""
    d, path = dataset(name), inputs_dir(inputs) / dataset(name).file
    if not path.is_file():
        raise DatasetError(f"{path} is missing. {how_to_get(d.name)}")
    digest = file_sha256(path)
    if digest != d.sha256 and digest not in d.variants:
        raise DatasetError(f"{path} is not {d.name} as published: its sha256 is {digest}, not "
                           f"{d.sha256} ({d.size:,} bytes). Move it away and get the data set "
                           f"again; it was left as it is.")
    return path


def download(name, inputs=None, url=None):
    """inputs/<file> of data set `name`: checked if it is there already (never
    overwritten), else downloaded from `url` (default: its own), checked and written
    atomically. Returns (path, whether it was downloaded)."""
    d = dataset(name)
    path = inputs_dir(inputs) / d.file
    if path.exists():
        return check(name, inputs), False
    url = url or d.url
    if url is None:
        raise DatasetError(f"{path} is missing, and {d.name} has no known download. "
                           f"{how_to_get(d.name)}")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            data = response.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise DatasetError(f"could not download {d.name} from {url} ({reason}): no network? "
                           f"Download that file on a machine that has one and put it at "
                           f"{path}; this command then checks it.") from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != d.sha256:
        raise DatasetError(f"the download from {url} is not {d.name}: its sha256 is {digest}, "
                           f"not {d.sha256} ({len(data):,} bytes, not {d.size:,}); nothing "
                           f"was written.")
    write_bytes_atomic(path, data)
    return path, True


def how_to_get(name):
    """One sentence that says how to get data set `name` (also the tests' skip reason)."""
    d = dataset(name)
    if d.url:
        return (f"`python -m little_baby.tools.datasets {d.name}` downloads {d.file} into "
                f"./inputs (or ${INPUTS_ENV}) and checks its sha256; inputs/README.md says "
                f"where it comes from.")
    return (f"Put {d.file} in ./inputs (or ${INPUTS_ENV}); `python -m little_baby.tools."
            f"datasets {d.name}` checks its sha256, and inputs/README.md says what it is.")
