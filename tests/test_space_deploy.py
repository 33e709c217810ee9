"""`little-baby space deploy` (little_baby/io/hub/space_deploy.py) against the loopback Hub
stand-in: exactly what a Space needs goes up (never hidden files, caches or models not
named), an update removes what an earlier deploy left, and the app starts from the
uploaded files alone in a fresh folder."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import SpaceCard

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.cli.main import main
from little_baby.io.hub.space_deploy import SpaceDeployError, deploy_space, space_files
from tests.little_texts import english

REPO = Path(__file__).resolve().parents[1]
GUID = "0bad0bab-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of the checkout (spaces/ and little_baby/ without its shipped models) with
    things planted that must never be uploaded."""
    root = tmp_path_factory.mktemp("checkout")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "shipped")
    shutil.copytree(REPO / "spaces", root / "spaces", ignore=skip)
    shutil.copytree(REPO / "little_baby", root / "little_baby", ignore=skip)
    planted = {"spaces/.env": "HF_TOKEN=hf_planted_7f3a", "spaces/flagged/log.csv": "a,b",
               "spaces/notes.txt": "mine", "spaces/baby_space/__pycache__/ui.cpython-311.pyc": "",
               "spaces/.gradio/certificate.pem": "x", "little_baby/.token": "hf_planted_7f3a",
               f"cache/{GUID}/config.json": "{}", "little_baby/io/.hidden.py": "PLANTED = 'hf_planted_7f3a'"}
    for path, text in planted.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A saved tiny model, the one model of the user's the deploy is asked to take."""
    baby = LittleBaby(BabyConfig(n_layers=1, n_emb=16, head_size=16, n_heads=2, n_ctx=16),
                      CharTokenizer.from_text(english()), guid=GUID)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    baby.save(folder)
    return folder, baby


def expected_files(source, model=True):
    spaces, package = source / "spaces", source / "little_baby"
    files = {"app.py", "requirements.txt", "README.md"}
    files |= {f"baby_space/{p.name}" for p in (spaces / "baby_space").glob("*.py")}
    files |= {f"little_baby/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")
              if "__pycache__" not in p.parts and not p.name.startswith(".")}
    files |= {f"little_baby/model_cards/{p.name}" for p in (package / "model_cards").iterdir()}
    if model:
        files |= {f"models/{GUID}/{n}" for n in ("config.json", "tokenizer.json",
                                                 "model.safetensors", "report.json")}
    return files


def test_a_dry_run_lists_what_would_go_and_asks_nothing(hub_env, source, tiny, capsys):
    code = main(["space", "deploy", "tester/baby", "--dry-run", "--no-ages", "--source",
                 str(source), "--model", str(tiny[0])])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and hub_env.server.count() == 0
    listed = {line.split()[-1] for line in out[:-1]}
    assert listed == expected_files(source)
    assert out[-1].endswith(f"would go to {hub_env.server.endpoint}/spaces/tester/baby "
                            f"(dry run: nothing uploaded)")
    with_ages = space_files(REPO)  # the real checkout: the five age models go too
    assert sum(k.startswith("little_baby/shipped/") and k.endswith("/model.safetensors")
               for k in with_ages) == 5


def test_bad_names_and_hardware_are_refused_in_one_line(hub_env, source, capsys):
    with pytest.raises(SpaceDeployError, match="is not a Space name: give owner/name"):
        deploy_space("baby", dry_run=True, source=source)
    assert main(["space", "deploy", "tester/baby", "--hardware", "gpu9000", "--dry-run"]) == 2
    assert "--hardware 'gpu9000' is not one the Hub offers: cpu-basic" in capsys.readouterr().err
    with pytest.raises(SpaceDeployError, match="is not a checkout of the-little-baby"):
        deploy_space("tester/baby", dry_run=True, source=source / "spaces")
    assert hub_env.server.count() == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deploy_uploads_exactly_what_the_space_needs_and_it_starts(hub_env, source, tiny,
                                                                     tmp_path, capsys):
    pytest.importorskip("gradio", reason='the Space needs it: pip install -e ".[dev]"')
    from gradio_client import Client
    code = main(["space", "deploy", "tester/baby", "--private", "--no-ages", "--source",
                 str(source), "--model", str(tiny[0])])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[-1] == f"{hub_env.server.endpoint}/spaces/tester/baby"
    space = hub_env.server.repo("tester/baby", "space")
    files = space.files()
    assert set(files) - {".gitattributes"} == expected_files(source) and space.private
    assert files["app.py"] == (source / "spaces" / "app.py").read_bytes()
    assert not any(b"hf_planted_7f3a" in data for data in files.values())
    card = SpaceCard((files["README.md"]).decode()).data
    assert card.sdk == "gradio" and card.app_file == "app.py"

    fresh = tmp_path / "fresh"  # the Space's files alone, as the Hub would run them
    for path, data in files.items():
        (fresh / path).parent.mkdir(parents=True, exist_ok=True)
        (fresh / path).write_bytes(data)
    found = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, '.'); "
                            "import little_baby; print(little_baby.__file__)"], cwd=fresh,
                           capture_output=True, text=True, timeout=60)
    assert Path(found.stdout.strip()).is_relative_to(fresh), found.stderr
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITTLE_BABY_SPACE",
                                                                   "PYTHON"))}
    env.update(HF_HUB_OFFLINE="1", GRADIO_SERVER_NAME="127.0.0.1", LITTLE_BABY_SPACE_DEVICE="cpu",
               GRADIO_SERVER_PORT=str(port), LITTLE_BABY_STORE=str(tmp_path / "store"))
    with open(tmp_path / "app.log", "w") as log:
        app = subprocess.Popen([sys.executable, "-I", "app.py"], cwd=fresh, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if app.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the deployed app did not start:\n"
                                f"{(tmp_path / 'app.log').read_text()}")
                time.sleep(0.3)
        client = Client(url, verbose=False, analytics_enabled=False)
        text, status = client.predict(GUID, "The baby", 10, 0.8, 5, 1.0, 3, True,
                                      api_name="/generate")
        assert text == tiny[1].generate("The baby", max_new_tokens=10, temperature=0.8,
                                        top_k=5, seed=3) and "tokens/s" in status
    finally:
        app.terminate()
        app.wait(10)

    # an update: the model not named again is removed, nothing else is left behind
    assert main(["space", "deploy", "tester/baby", "--no-ages", "--source", str(source)]) == 0
    assert set(space.files()) - {".gitattributes"} == expected_files(source, model=False)
