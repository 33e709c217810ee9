"""A model folder: save -> load gives the same logits; bad files are clear errors."""
import numpy as np
import pytest

from little_baby import LittleBaby
from little_baby.errors import WeightsError
from little_baby.errors import ModelFolderError
from tests.gradcheck import tiny_baby


def test_save_load_same_logits(tmp_path):
    baby, x, _ = tiny_baby()
    baby.guid = "0a0b0c0d-0000-4000-8000-000000000001"
    baby.save(tmp_path / "m")
    again = LittleBaby.load(tmp_path / "m")
    assert again.guid == baby.guid
    assert again.config == baby.config and again.tokenizer == baby.tokenizer
    np.testing.assert_array_equal(again.logits(x), baby.logits(x))


def test_truncated_weights_are_a_clear_error(tmp_path):
    baby, _, _ = tiny_baby()
    baby.save(tmp_path)
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        LittleBaby.load(tmp_path)


def test_mismatched_weights_name_the_key(tmp_path):
    baby, _, _ = tiny_baby()
    baby.save(tmp_path)
    (tmp_path / "config.json").write_text((tmp_path / "config.json").read_text()
                                          .replace('"n_emb": 8', '"n_emb": 16')
                                          .replace('"head_size": 8', '"head_size": 16'))
    with pytest.raises(WeightsError, match="wte.weight"):
        LittleBaby.load(tmp_path)


def test_missing_files(tmp_path):
    with pytest.raises(ModelFolderError, match="missing"):
        LittleBaby.load(tmp_path)


def test_a_failed_save_over_a_model_leaves_it_whole(tmp_path, monkeypatch):
    """The four files are replaced together: an error while writing the last one leaves
    every old file byte for byte, and no temporary file behind."""
    old, x, _ = tiny_baby()
    old.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    new, _, _ = tiny_baby(n_layers=1)

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr("little_baby.io.store.model_folder.json_text", broken)  # report.json is written last
    with pytest.raises(OSError, match="disk full"):
        new.save(tmp_path / "m")
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    np.testing.assert_array_equal(LittleBaby.load(tmp_path / "m").logits(x), old.logits(x))


def test_the_tokenizer_file_decides_the_tokenizer_kind_on_load(tmp_path):
    """A folder whose config.json says char next to a word tokenizer.json (written before
    LittleBaby checked the two agree) still loads, as a word model."""
    import json
    from little_baby import BabyConfig, WordTokenizer
    baby = LittleBaby(BabyConfig(n_layers=1, n_emb=8, head_size=8, n_heads=2, n_ctx=8,
                                 c_tokenizer="word"), WordTokenizer.from_text("to be or not"))
    baby.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "c_tokenizer": "char"}))
    again = LittleBaby.load(tmp_path)
    assert again.config.c_tokenizer == "word" and again.tokenizer == baby.tokenizer


def test_a_save_that_fails_to_flush_leaves_the_old_model_whole(tmp_path, monkeypatch):
    old, x, _ = tiny_baby()
    old.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    calls = []

    def fsync_fails_the_second_time(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError("I/O error")
    monkeypatch.setattr("little_baby.io.store.files.os.fsync", fsync_fails_the_second_time)
    new, _, _ = tiny_baby(n_layers=1)
    with pytest.raises(OSError, match="I/O error"):
        new.save(tmp_path / "m")
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
