"""notebooks/train_on_colab_or_kaggle.ipynb: its shape (a parameters cell papermill
parses), no placeholder or link to a place that may not exist, the README's way to open
it, a real run of it with papermill on the CPU with tiny settings (the parameters
injected, the text got by the README's data command, pushing to the stand-in Hub), and
one clear line where the install setting is unset, where pip cannot install, and where
the text cannot be downloaded."""
import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from little_baby import platforms
from little_baby.io.store.ages import AGES, shipped_folder
from little_baby.training.data import find_input

papermill = pytest.importorskip("papermill", reason="papermill is in the dev extra: "
                                                    "pip install -e \".[dev]\"")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "train_on_colab_or_kaggle.ipynb"
AGE = "age-3-months"
TINY = dict(MODEL=AGE, MAX_ITERS=20, BATCH_SIZE=4, MAX_NEW_TOKENS=40, FRESH_N_CTX=16,
            FRESH_N_EMB=16, FRESH_N_HEADS=2, FRESH_N_LAYERS=1, PROMPT="First",
            INSTALL_CUPY=False)
CLOSED = "http://127.0.0.1:9"  # nothing listens there: a machine without a network


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_three_code_cells_the_second_tagged_parameters_and_saved_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cells = code_cells(nb)
    assert len(cells) == 3
    assert ["parameters" in c.metadata.get("tags", []) for c in cells] == [False, True, False]
    assert all(not c.outputs and c.execution_count is None for c in cells)
    assert "platforms.setup(" in cells[2].source and ".push_to_hub(" in cells[2].source


def test_the_parameters_cell_is_one_simple_assignment_a_line_as_papermill_reads_it():
    cell = code_cells(nbformat.read(NOTEBOOK, as_version=4))[1]
    statements = ast.parse(cell.source).body
    values = {}
    for s in statements:
        assert isinstance(s, ast.Assign) and len(s.targets) == 1, ast.unparse(s)
        assert isinstance(s.targets[0], ast.Name) and s.lineno == s.end_lineno, ast.unparse(s)
        values[s.targets[0].id] = ast.literal_eval(s.value)   # a plain value, nothing computed
    parsed = papermill.inspect_notebook(str(NOTEBOOK))
    assert list(parsed) == list(values)                     # papermill finds every one
    assert {k: ast.literal_eval(p["default"]) for k, p in parsed.items()} == values
    assert set(TINY) <= set(values)


def test_no_placeholder_and_no_link_to_a_place_that_may_not_exist():
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert not re.search(r"OWNER|/REPO\b|<you>|example\.(com|org)", text)
    hosts = re.findall(r"https?://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", text)
    assert hosts == [], f"the notebook links {hosts}: the project has no address yet"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "OWNER/REPO" not in readme and "colab.research.google.com/github" not in readme
    section = readme[readme.index("## Colab and Kaggle"):]
    section = " ".join(section[:section.index("\n## ", 1)].split())   # lines joined
    assert "Upload notebook" in section and NOTEBOOK.relative_to(ROOT).as_posix() in section
    assert "INSTALL_FROM" in section


def install_cell(install_from):
    source = code_cells(nbformat.read(NOTEBOOK, as_version=4))[0].source
    assert source.count('INSTALL_FROM = ""') == 1
    return source.replace('INSTALL_FROM = ""', f"INSTALL_FROM = {install_from!r}")


def test_the_install_cell_unset_stops_with_one_line_that_names_the_setting(tmp_path):
    # -S: no site-packages, so little_baby is not importable, as on a fresh Colab machine
    r = subprocess.run([sys.executable, "-S", "-c", install_cell("")], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("Stop: set INSTALL_FROM at the top of cell 1"), r.stderr


def test_the_install_cell_offline_stops_with_one_line_from_pip(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f"{CLOSED}/simple", PIP_RETRIES="0",
               PIP_TIMEOUT="2", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([sys.executable, "-c", install_cell("little-baby==99.0")], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert re.match(r"Stop: pip could not install little-baby==99\.0 \(ERROR: .+\)\. Is the "
                    r"machine online", last), r.stderr


def run(tmp_path, **parameters):
    """Execute the notebook in `tmp_path` with papermill; (notebook, error or None)."""
    out = tmp_path / "out.ipynb"
    try:
        papermill.execute_notebook(str(NOTEBOOK), str(out), parameters=parameters,
                                   cwd=str(tmp_path), kernel_name="python3",
                                   progress_bar=False, execution_timeout=120)
        error = None
    except papermill.PapermillExecutionError as e:
        error = e
    return nbformat.read(out, as_version=4), error


def stream(cell, name):
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def test_offline_the_data_command_stops_the_notebook_with_one_line(tmp_path, monkeypatch):
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(proxy, CLOSED)
    monkeypatch.delenv("LITTLE_BABY_INPUTS", raising=False)
    nb, error = run(tmp_path, TEXT="shakespeare", **TINY)
    assert error is not None and error.ename == "Stop"
    assert error.evalue.startswith("datasets: error: could not download shakespeare from")
    assert "no network?" in error.evalue and "\n" not in error.evalue
    shown = [o for o in code_cells(nb)[-1].outputs if o.output_type == "error"]
    assert len(shown) == 1 and shown[0].traceback == [f"Stopped: {error.evalue}"]
    assert not (tmp_path / "inputs" / "shakespeare.txt").exists()


def test_the_notebook_gets_the_text_trains_generates_and_pushes_on_the_cpu(
        hub_env, tmp_path, monkeypatch):
    shakespeare = find_input("shakespeare.txt")
    if shakespeare is None:
        pytest.skip("shakespeare.txt not found: python -m little_baby.tools.datasets shakespeare")
    (tmp_path / "inputs").mkdir()      # as the data command leaves it: it checks, no download
    (tmp_path / "inputs" / "shakespeare.txt").symlink_to(shakespeare.resolve())
    monkeypatch.delenv("LITTLE_BABY_STORE", raising=False)    # models go under the cwd
    monkeypatch.delenv("LITTLE_BABY_INPUTS", raising=False)
    repo = f"{hub_env.server.user}/notebook-baby"

    nb, error = run(tmp_path, TEXT="shakespeare", HUB_REPO=repo, **TINY)
    assert error is None, f"{error.ename}: {error.evalue}"
    cells = [c for c in nb.cells if c.cell_type == "code"]
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and cells.index(injected[0]) == 2   # papermill's place
    last = cells[-1]
    stdout, stderr = stream(last, "stdout"), stream(last, "stderr")
    assert "platform       Jupyter" in stdout
    if platforms.detect_cuda().driver is None:
        assert "training on    cpu (NumPy)" in stdout
    assert f"Text: {tmp_path / 'inputs' / 'shakespeare.txt'}" in stdout
    assert "20/20" in stderr  # the progress bar got to the end

    guid = re.search(r"Model ([0-9a-f-]{36}): validation loss \d+\.\d{3}", stdout)[1]
    folder = tmp_path / "models" / guid                       # under the working folder
    report = json.loads((folder / "report.json").read_text())
    assert report["final"]["step"] == 20 and (folder / "model.safetensors").is_file()
    if shipped_folder(AGES[AGE].guid) is not None:
        assert f"Finetuning {AGE}" in stdout and report["parent_guid"] == AGES[AGE].guid
    else:
        assert f"{AGE} could not be loaded" in stdout and "Training a fresh model" in stdout
        assert report["parent_guid"] is None
    sample = re.search(r"^First(.+)", stdout, re.M)
    assert sample and len(sample[0]) > len("First")

    assert "Pushed:" in stdout
    files = hub_env.server.repo(repo).files()
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= set(files)
