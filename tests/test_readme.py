"""Every ```python and ```bash block of README.md runs as written.

The blocks run in the order they appear, in one fresh folder (a session, as a reader
would type them): Python blocks with `python`, bash blocks with `bash -e`, each in a new
process, with
  - inputs/ holding the real shakespeare.txt only (linked, never copied into the
    repository; the test skips, saying how to get it, where it is absent): every data
    set a block uses must be one a reader can download (training/datasets.py), so a block
    that needs sophocles.txt, which cannot be downloaded, fails here,
  - a Hub server on 127.0.0.1 (tests/hub_server.py) in place of huggingface.co, holding
    tiny stand-ins for the repos the README names (the age model in
    koureasstavros/TheLittleBaby, someone/baby-sophocles, someone/babies) and the token
    "hf_..." for the user "me"; nothing reaches the internet,
  - the package's own shipped models, no $LITTLE_BABY_STORE, and $XDG_CACHE_HOME in the
    folder, so the default model store (io/store/places.py) is the session's own.

Marker convention: a block whose fence reads ```bash skip-test: WHY (or ```python
skip-test: WHY) is not run, and WHY is its skip reason. Use it only for a block that
cannot run here at all (one that installs the package and runs this very test suite);
make a block quick instead (--max-iters 20) wherever that is possible. A fence that
reads ```python needs: torch transformers names the optional libraries the block needs:
where one is not installed the block skips, and the reason says what installs it. Fences
without a language (sample output, file trees) are not code and are not run.

The first bash block holds the README's two commands (install and run; run the tests);
.ci/run runs those very lines.
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.io.store.ages import AGES
from little_baby.io.formats import gpt2
from little_baby.training.datasets import DATASETS, how_to_get
from little_baby.io.hub.fetch import DEFAULT_REPO
from little_baby.training.data import find_input, read_corpus
from tests.hub_server import HubServer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(python|bash)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
# the data sets a reader can download (sophocles.txt cannot be, so no block may need it)
INPUTS = {d.file: find_input(d.file) for d in DATASETS.values() if d.url}
CI_RUN = ROOT / ".ci" / "run"
OWNERS = {"hf_...": "me", "hf_someone": "someone", "hf_original": DEFAULT_REPO.split("/")[0]}
TIMEOUT = 120  # seconds for one block


class Block:
    def __init__(self, match, text):
        self.lang, info, self.code = match.group(1), match.group(2).strip(), match.group(3)
        self.line = text.count("\n", 0, match.start()) + 1
        self.skip = info.split(":", 1)[1].strip() if info.startswith("skip-test") else None
        self.needs = info.split(":", 1)[1].split() if info.startswith("needs:") else []
        heading = [h for h in re.findall(r"^#+ (.+)$", text[:match.start()], re.M)]
        self.id = f"line {self.line}, {heading[-1] if heading else 'top'}, {self.lang}"


def readme_blocks():
    text = README.read_text(encoding="utf-8")
    return [Block(m, text) for m in FENCE.finditer(text)]


BLOCKS = readme_blocks()


def stand_in(text, seed):
    """A tiny model with the vocabulary of `text`, so any of its prompts works."""
    config = BabyConfig(n_ctx=32, n_emb=16, head_size=16, n_heads=2, n_layers=1, seed=seed)
    return LittleBaby(config, CharTokenizer.from_text(text))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """(folder, environment) the blocks share."""
    missing = [n for n, path in INPUTS.items() if path is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: " + " ".join(
            how_to_get(n) for n in missing))
    folder = tmp_path_factory.mktemp("readme")
    (folder / "inputs").mkdir()
    for name, path in INPUTS.items():
        (folder / "inputs" / name).symlink_to(path.resolve())
    with HubServer(OWNERS) as server:
        fill_the_hub(server, folder / "uploads")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING", "LITTLE_BABY_"))}
        env.update(HF_ENDPOINT=server.endpoint, HF_HOME=str(folder / ".hf"),
                   HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
                   HF_HUB_DISABLE_PROGRESS_BARS="1", NO_PROXY="127.0.0.1",
                   XDG_CACHE_HOME=str(folder / ".cache"),
                   no_proxy="127.0.0.1", PYTHONPATH=str(ROOT))
        bin_dir = Path(sys.executable).parent  # `python` and `little-baby` of this install
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        yield folder, env


def fill_the_hub(server, uploads):
    """The repos the README's Hub blocks name, each with a tiny stand-in model."""
    text = read_corpus(INPUTS["shakespeare.txt"])
    age = AGES["age-48-months"].guid
    sophocles = stand_in(text, seed=1)
    sophocles.guid = "5e0b1c2d-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
    token = {user: t for t, user in OWNERS.items()}
    for repo_id, models in [(DEFAULT_REPO, {age: stand_in(text, seed=0)}),
                            ("someone/baby-sophocles", {"": sophocles}),
                            ("someone/babies", {sophocles.guid: sophocles,
                                                age: stand_in(text, seed=2)})]:
        api = HfApi(endpoint=server.endpoint, token=token[repo_id.split("/")[0]])
        api.create_repo(repo_id)
        for guid, baby in models.items():
            baby.guid = baby.guid or guid
            folder = baby.save_pretrained(uploads / repo_id / (guid or "root"))
            api.upload_folder(repo_id=repo_id, folder_path=folder, path_in_repo=guid or None)


def test_the_readme_has_blocks_and_marks_few_as_not_run():
    assert len(BLOCKS) >= 6
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert len(skipped) <= 3 and all(b.skip for b in skipped)  # each says why
    assert all(set(b.needs) <= set(gpt2.INSTALL) for b in BLOCKS)  # each one we can name


def commands(text):
    """The command lines of a shell text: comments and blank lines left out."""
    lines = (re.sub(r"(^|\s+)#\s.*$", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_ci_runs_the_readme_s_two_commands_as_written():
    first = next(b for b in BLOCKS if b.lang == "bash")
    two = commands(first.code)
    assert len(two) == 2 and two[0].startswith("pip install -e .") and "pytest" in two[1]
    ci = [line for line in commands(CI_RUN.read_text(encoding="utf-8"))
          if line.startswith("pip ") or "pytest" in line]
    assert ci == two, f".ci/run runs {ci}, README.md's two commands are {two}"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs_as_written(session, block):
    if block.skip is not None:
        pytest.skip(f"README.md line {block.line} is marked skip-test: {block.skip}")
    missing = [n for n in block.needs if importlib.util.find_spec(n) is None]
    if missing:
        pytest.skip(f"README.md line {block.line} needs {', '.join(missing)}, not installed "
                    f"here. " + "; ".join(f"{', '.join(ns)}: {how}"
                                          for how, ns in gpt2._group(missing).items()))
    folder, env = session
    script = folder / f".block_{block.line}.{'py' if block.lang == 'python' else 'sh'}"
    script.write_text(block.code, encoding="utf-8")
    command = [sys.executable, script] if block.lang == "python" else ["bash", "-e", script]
    r = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, (f"README.md line {block.line} ({block.lang}) failed, exit "
                               f"{r.returncode}:\n{r.stderr[-3000:]}")
