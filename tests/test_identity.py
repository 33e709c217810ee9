"""Who a model is and where it lives (io/store/identity.py, issue 23): each writer of a
model folder (a training run, a finetune, a conversion of the original's files, a pull
from the Hub) leaves a report.json that round trips through the schema
(io/store/report.py) and reads the same in `little-baby info`, `little-baby list`, the
model card and the Space; a finetune of a Hub model names that repo as the card's
base_model; a model loaded by GUID from another store is looked for there; and the
store is called the store (`store=`, `--store`, $LITTLE_BABY_STORE), its older names
still taken. The Hub is the loopback stand-in (tests/hub_server.py)."""
import json
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from little_baby import BabyConfig, LittleBaby
from little_baby.cli import main
from little_baby.errors import BabyError, ModelFolderError
from little_baby.io.hub.fetch import REPO_ENV, convert
from little_baby.io.store import identity
from little_baby.io.store.model_folder import read_report
from little_baby.io.store.report import check_report, corpus_name, model_loss
from tests.little_texts import GREEK, TINY, english
from tests import test_gpt2_hub as gpt2_hub
from tests.test_original import original_like, write_original

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spaces"))
from baby_space.models import model_summary  # noqa: E402

WRITERS = ["train", "finetune", "convert", "hub pull"]
bpe = gpt2_hub.bpe  # the fixture: a byte-level BPE for a tiny GPT-2


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The default store of each test: its own folder, named by the variable's new name."""
    monkeypatch.setenv("LITTLE_BABY_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("LITTLE_BABY_CACHE", raising=False)
    monkeypatch.delenv(REPO_ENV, raising=False)
    return tmp_path / "store"


def corpus(tmp_path, text=None, name="english.txt"):
    path = tmp_path / name
    path.write_text(text or english(20), encoding="utf-8")
    return path


def trained(tmp_path, store, **fit):
    return LittleBaby.train_new(BabyConfig(**TINY), corpus(tmp_path), max_iters=4,
                                eval_interval=2, store=store, quiet=True, **fit)


def written_by(writer, tmp_path, store, request):
    """(the name the commands take, the folder) of a model the writer `writer` made."""
    if writer == "train":
        baby = trained(tmp_path, store)
    elif writer == "finetune":
        baby = LittleBaby.load(trained(tmp_path, store).guid, store=store)
        baby.fit(corpus(tmp_path, GREEK * 3, "greek.txt"), max_iters=4, eval_interval=2,
                 store=store, quiet=True)
    elif writer == "convert":
        guid = identity.new_guid()
        folder = convert(write_original(original_like()[0], tmp_path / "repo", guid), guid,
                         store=store)
        return guid, folder
    else:  # pulled from a Hub repo
        hub_env = request.getfixturevalue("hub_env")
        repo_id = f"{hub_env.server.user}/baby-tiny"
        trained(tmp_path, tmp_path / "elsewhere").push_to_hub(repo_id)
        baby = LittleBaby.from_pretrained(repo_id)
        assert baby.source["repo_id"] == repo_id
        return repo_id, baby.source["folder"]
    return baby.guid, store / baby.guid


@pytest.mark.parametrize("writer", WRITERS)
def test_each_writers_report_reads_the_same_everywhere(writer, tmp_path, store, request,
                                                       capsys):
    name, folder = written_by(writer, tmp_path, store, request)
    report = read_report(folder)
    # the schema: what was written is what is read, through JSON and through a save
    assert check_report(json.loads(json.dumps(report))) == report
    baby = LittleBaby.load(folder)
    assert baby.source["folder"] == folder and baby.guid == report["guid"]
    assert read_report(baby.save(tmp_path / "copy")) == report
    with pytest.raises(ModelFolderError, match="field origin.kind"):
        check_report({**report, "origin": {"kind": 3}})

    guid, parent, n_params = report["guid"], report["parent_guid"], report["n_params"]
    loss, _ = model_loss(report)
    kind = identity.origin(report)["kind"]
    assert kind == {"train": "trained", "finetune": "finetuned", "convert": "converted",
                    "hub pull": "trained"}[writer]
    assert (parent is not None) == (writer == "finetune") == bool(report["lineage"])

    assert main(["info", name, "--store", str(store)]) == 0
    info = capsys.readouterr().out
    assert f"model      {guid}" in info and f"parameters {n_params:,}" in info
    assert f"origin     {identity.describe(report)}" in info
    assert (loss is None) == (writer == "convert")
    if loss is not None:
        assert f"loss       {loss:.4f}" in info
    if parent:
        assert f"lineage    {guid} <- {parent}" in info

    if writer != "hub pull":  # the store's models; a pulled one is in the Hub cache
        assert main(["list", "--store", str(store)]) == 0
        row = next(line for line in capsys.readouterr().out.splitlines()
                   if line.startswith(guid))
        assert f"{n_params:,}" in row and (loss is None or f"{loss:.4f}" in row)
        assert row.endswith((parent or "-")[:8])

    card = ModelCard.load(baby.save_pretrained(tmp_path / "card") / "README.md")
    assert f"Model GUID: `{guid}`" in card.text and f"| parameters | {n_params:,} |" in card.text
    assert card.data.base_model is None  # none of these was finetuned from a Hub model
    if loss is not None:
        assert card.data.eval_results[0].metric_value == round(loss, 4)
    if parent:
        assert f"Finetuned from `{parent}`" in card.text
    if kind == "converted":
        assert identity.describe(report) in card.text

    summary = model_summary(name, baby)
    assert f"GUID `{guid}`" in summary and f"**parameters**: {n_params:,}" in summary
    if loss is not None:
        assert f"{loss:.3f} nats per symbol" in summary
    if parent:
        assert f"**finetuned from**: `{parent}`" in summary
    if corpus_name(report.get("corpus") or {}):
        assert f"on {corpus_name(report['corpus'])}" in summary


def test_a_finetune_of_a_hub_gpt2_names_it_as_the_cards_base_model(hub_env, tmp_path, store,
                                                                  bpe):
    repo_id = f"{hub_env.server.user}/tiny-gpt2"
    gpt2_hub.upload(gpt2_hub.tiny_gpt2(tmp_path / "gpt2", bpe), repo_id)
    gpt2 = LittleBaby.from_pretrained(repo_id, batch_size=2)
    assert identity.origin(gpt2.report) == {"kind": "gpt2", "repo": repo_id}
    parent = gpt2.guid
    gpt2.fit(corpus(tmp_path), max_iters=2, eval_interval=2, quiet=True)
    assert (gpt2.parent_guid, gpt2.report["lineage"]) == (parent, [parent])
    assert gpt2.report["origin"] == {"kind": "finetuned", "base_model": repo_id}
    for baby in (gpt2, LittleBaby.load(gpt2.guid)):  # recorded: it outlives the session
        card = ModelCard.load(baby.save_pretrained(tmp_path / baby.guid) / "README.md")
        assert card.data.base_model == repo_id
        assert f"Finetuned from `{parent}`" in card.text

    local = LittleBaby.from_gpt2(tmp_path / "gpt2", batch_size=2)  # this machine's: no base
    local.fit(corpus(tmp_path), max_iters=2, eval_interval=2, quiet=True)
    assert identity.base_model(local.report) is None
    assert ModelCard.load(local.save_pretrained(tmp_path / "local") / "README.md") \
        .data.base_model is None


def test_a_model_loaded_by_guid_from_another_store_is_looked_for_there(tmp_path, store):
    pytest.importorskip("matplotlib", reason="the loss curve needs it")
    other = tmp_path / "other-store"
    guid = trained(tmp_path, other).guid
    for baby in (LittleBaby.load(guid, store=other), LittleBaby.load(guid, cache=other),
                 LittleBaby.from_pretrained(guid, store=other)):
        assert baby.source == {"guid": guid, "folder": other / guid, "repo_id": None}
        assert identity.home(baby) == other / guid
        folder = baby.save_pretrained(tmp_path / "out")
        assert (folder / "loss_curve.png").read_bytes() == (other / guid / "loss_curve.png") \
            .read_bytes()
        assert "![loss curve](loss_curve.png)" in (folder / "README.md").read_text()
    assert not (store / guid).exists()


def test_the_store_is_named_store_and_its_older_names_still_work(tmp_path, store,
                                                                 monkeypatch, capsys):
    guid = trained(tmp_path, tmp_path / "mine").guid
    for flag in ("--store", "--cache"):
        assert main(["list", flag, str(tmp_path / "mine")]) == 0
        assert guid in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["list", "--help"])
    text = capsys.readouterr().out
    assert "--store DIR" in text and "--cache" not in text and "./cache" not in text
    assert "$LITTLE_BABY_STORE" in text

    monkeypatch.delenv("LITTLE_BABY_STORE")
    monkeypatch.setenv("LITTLE_BABY_CACHE", str(tmp_path / "mine"))  # the older variable
    assert LittleBaby.load(guid).guid == guid
    assert main(["list"]) == 0 and "($LITTLE_BABY_CACHE)" in capsys.readouterr().out
    monkeypatch.setenv("LITTLE_BABY_STORE", str(store))  # the new one wins
    assert main(["list"]) == 0 and f"{store} ($LITTLE_BABY_STORE, " in capsys.readouterr().out

    assert LittleBaby.load(guid, cache=tmp_path / "mine").guid == guid
    with pytest.raises(BabyError, match="are two folders: name the store once"):
        LittleBaby.load(guid, store=tmp_path / "mine", cache=store)
    assert LittleBaby.load(guid, store=str(tmp_path / "mine"), cache=tmp_path / "mine").guid == guid
    assert main(["list", "--store", str(tmp_path / "mine"), "--cache", str(store)]) == 2
    assert "are two folders: name the store once" in capsys.readouterr().err
