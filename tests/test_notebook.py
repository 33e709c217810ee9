"""notebooks/train_on_colab_or_kaggle.ipynb: its shape, the README's badge, and a real run
of it on the CPU with tiny settings (nbclient, a Jupyter kernel; the parameters injected
after the cell tagged `parameters`, as papermill does), pushing to the stand-in Hub."""
import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from little_baby import platforms
from little_baby.io.ages import AGES, shipped_folder
from little_baby.training.data import find_input

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "train_on_colab_or_kaggle.ipynb"
AGE = "age-3-months"


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_three_code_cells_the_second_tagged_parameters_and_saved_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cells = code_cells(nb)
    assert len(cells) == 3
    assert ["parameters" in c.metadata.get("tags", []) for c in cells] == [False, True, False]
    assert all(isinstance(node, ast.Assign) for node in ast.parse(cells[1].source).body)
    assert all(not c.outputs and c.execution_count is None for c in cells)
    assert "platforms.setup(" in cells[2].source and ".push_to_hub(" in cells[2].source


def test_the_readme_links_the_notebook_with_an_open_in_colab_badge():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badge = re.search(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/"
                      r"colab-badge\.svg\)\]\((https://colab\.research\.google\.com/github/[^)]+)\)",
                      readme)
    assert badge, "no Open In Colab badge in README.md"
    assert badge[1].endswith("/blob/main/" + NOTEBOOK.relative_to(ROOT).as_posix())


def inject(nb, **values):
    """Add a cell that sets `values` right after the `parameters` cell (papermill's way)."""
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
        source, metadata={"tags": ["injected-parameters"]}, id="injected-parameters"))
    return at + 1


def test_the_notebook_trains_generates_and_pushes_on_the_cpu(hub_env, tmp_path, monkeypatch):
    shakespeare = find_input("shakespeare.txt")
    if shakespeare is None:
        pytest.skip("shakespeare.txt is not here (CI has it)")
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "tiny.txt").write_text(
        shakespeare.read_text(encoding="utf-8")[:20_000], encoding="utf-8")
    monkeypatch.setenv("LITTLE_BABY_CACHE", str(tmp_path / "models"))
    monkeypatch.delenv("LITTLE_BABY_INPUTS", raising=False)
    repo = f"{hub_env.server.user}/notebook-baby"

    nb = nbformat.read(NOTEBOOK, as_version=4)
    inject(nb, TEXT="tiny.txt", MODEL=AGE, MAX_ITERS=20, BATCH_SIZE=4, MAX_NEW_TOKENS=40,
           FRESH_MODEL=dict(n_ctx=16, n_emb=16, head_size=16, n_heads=2, n_layers=1),
           PROMPT="First", INSTALL_CUPY=False, HUB_REPO=repo)
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    last = code_cells(nb)[-1]
    stdout = "".join(o.get("text", "") for o in last.outputs if o.get("name") == "stdout")
    stderr = "".join(o.get("text", "") for o in last.outputs if o.get("name") == "stderr")
    assert "platform       Jupyter" in stdout
    if platforms.detect_cuda().driver is None:
        assert "training on    cpu (NumPy)" in stdout
    assert "20/20" in stderr  # the progress bar got to the end

    guid = re.search(r"Model ([0-9a-f-]{36}): validation loss \d+\.\d{3}", stdout)[1]
    folder = tmp_path / "models" / guid
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
