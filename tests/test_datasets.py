"""`python -m little_baby.tools.datasets NAME`: a named data set downloaded into inputs/
with its sha256 checked, from a server on 127.0.0.1 (never the internet); a wrong or
missing download, or one with no network, writes nothing and says what to do."""
import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from little_baby.errors import DatasetError
from little_baby.training import datasets
from little_baby.training.datasets import DATASETS, Dataset, download, identify
from little_baby.tools.datasets import main
from little_baby.training.data import find_input

TEXT = b"To be, or not to be, that is the question.\n" * 50


@pytest.fixture
def served(tmp_path):
    """A file server on 127.0.0.1 (its root: tmp_path/www) and the requests it answered."""
    root = tmp_path / "www"
    root.mkdir()
    log = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            log.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", log
    server.shutdown()
    server.server_close()


@pytest.fixture
def tiny_set(monkeypatch, served):
    """A data set 'tiny' whose published copy is TEXT at the server's /tiny.txt."""
    root, endpoint, _ = served
    (root / "tiny.txt").write_bytes(TEXT)
    tiny = Dataset("tiny", "tiny.txt", "a test text", f"{endpoint}/tiny.txt",
                   hashlib.sha256(TEXT).hexdigest(), len(TEXT))
    monkeypatch.setitem(DATASETS, "tiny", tiny)
    return tiny


def files(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else []


def test_download_checks_the_sha256_and_then_leaves_the_file_alone(tiny_set, served, tmp_path):
    _, _, log = served
    inputs = tmp_path / "inputs"
    path, downloaded = download("tiny", inputs)
    assert (path, downloaded) == (inputs / "tiny.txt", True) and path.read_bytes() == TEXT
    assert files(inputs) == ["tiny.txt"] and log == ["/tiny.txt"]
    mtime = path.stat().st_mtime_ns
    assert download("tiny", inputs) == (path, False)  # there already: checked, not fetched
    assert log == ["/tiny.txt"] and path.stat().st_mtime_ns == mtime


def test_a_wrong_download_writes_nothing(tiny_set, served, tmp_path):
    root, _, _ = served
    (root / "tiny.txt").write_bytes(TEXT[:-1])  # one byte short
    with pytest.raises(DatasetError, match=f"is not tiny: its sha256 is .*not {tiny_set.sha256}.*"
                                           "nothing was written"):
        download("tiny", tmp_path / "inputs")
    assert files(tmp_path / "inputs") == []  # not even a temporary file


def test_a_file_already_there_that_differs_is_refused_and_kept(tiny_set, tmp_path, capsys):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "tiny.txt").write_bytes(b"my own notes")
    with pytest.raises(DatasetError, match="is not tiny as published.*left as it is"):
        download("tiny", tmp_path / "inputs")
    assert (tmp_path / "inputs" / "tiny.txt").read_bytes() == b"my own notes"


def test_no_network_is_one_line_exit_2_and_nothing_written(tiny_set, tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/tiny.txt"
    start = time.perf_counter()
    code = main(["tiny", "--inputs", str(tmp_path / "inputs"), "--url", closed])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "") and err.count("\n") == 1 and time.perf_counter() - start < 5
    assert "could not download tiny" in err and "no network?" in err
    assert f"put it at {tmp_path / 'inputs' / 'tiny.txt'}" in err
    assert files(tmp_path / "inputs") == []


def test_the_command_downloads_then_says_so(tiny_set, tmp_path, capsys):
    assert main(["tiny", "--inputs", str(tmp_path / "inputs")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'inputs' / 'tiny.txt'}: downloaded, sha256 checked\n"
    assert main(["tiny", "--inputs", str(tmp_path / "inputs")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'inputs' / 'tiny.txt'}: sha256 checked\n"


def test_sophocles_has_no_download_and_a_placed_copy_is_checked(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(datasets.urllib.request, "urlopen", None)  # must not be called
    assert main(["sophocles", "--inputs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no known download" in err and "Put sophocles.txt in ./inputs" in err
    (tmp_path / "sophocles.txt").write_text("ΑΝΤΙΓΟΝΗ\n", encoding="utf-8")
    assert main(["sophocles", "--inputs", str(tmp_path)]) == 2
    assert "is not sophocles as published" in capsys.readouterr().err


SHAKESPEARE, SOPHOCLES = find_input("shakespeare.txt"), find_input("sophocles.txt")


@pytest.mark.skipif(SHAKESPEARE is None or SOPHOCLES is None,
                    reason="shakespeare.txt or sophocles.txt not found: " +
                    datasets.how_to_get("shakespeare") + " " + datasets.how_to_get("sophocles"))
def test_the_real_files_have_the_sha256s_stated(served, tmp_path, capsys):
    """The shared copies are the data sets; Tiny Shakespeare as char-rnn publishes it is
    that copy with its last newline, and downloads (from 127.0.0.1) as such."""
    root, endpoint, _ = served
    published = SHAKESPEARE.read_bytes() + b"\n"
    (root / "input.txt").write_bytes(published)
    path, _ = download("shakespeare", tmp_path / "inputs", url=f"{endpoint}/input.txt")
    assert path.read_bytes() == published and len(published) == DATASETS["shakespeare"].size
    assert identify(hashlib.sha256(SHAKESPEARE.read_bytes()).hexdigest())[0].name == "shakespeare"
    assert identify(hashlib.sha256(SOPHOCLES.read_bytes()).hexdigest()) == (
        DATASETS["sophocles"], None) and SOPHOCLES.stat().st_size == DATASETS["sophocles"].size
    assert main(["--inputs", str(SHAKESPEARE.parent)]) == 0
    listed = capsys.readouterr().out
    assert listed.count("(sha256 checked)") == 2 and "not there" not in listed


def test_find_input_knows_the_variable_and_inputs_only(tmp_path, monkeypatch):
    """No folder of the development setup (../shared/inputs) is known to the library."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LITTLE_BABY_INPUTS", raising=False)
    assert find_input("shakespeare.txt") is None
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "shakespeare.txt").write_text("ROMEO: hi\n")
    assert find_input("shakespeare.txt") == Path("inputs") / "shakespeare.txt"
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "shakespeare.txt").write_text("JULIET: hi\n")
    monkeypatch.setenv("LITTLE_BABY_INPUTS", str(tmp_path / "texts"))
    assert find_input("shakespeare.txt") == tmp_path / "texts" / "shakespeare.txt"
