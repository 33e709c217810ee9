"""The original project's files load exactly (little_baby/io/formats/original.py, issue 11).

- A model the original's own code saved (../shared/fixtures/original, beside the checkout)
  gives that code's logits to within 1e-6, by GUID from a fresh store, then from the store.
- Files written in the original's layout FROM a model of ours (write_original, by the
  format's rules) load back to the same logits for pre/post x mha/moh x mlp/moe, and to the
  logits of `original_forward`: the original's maths written out from its description,
  straight on its JSON entries (checked against the fixture too).
- A misnamed, missing, mis-shaped or non-finite entry is a WeightsError naming it, and
  nothing is written to the store.
"""
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from little_baby import LittleBaby
from little_baby.cli.main import main
from little_baby.errors import ConfigError, ModelFolderError, TokenizerError, WeightsError
from little_baby.io.store.identity import new_guid
from little_baby.io.formats.original import original_files
from tests.gradcheck import tiny_baby

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "original"
FIXTURE_GUID = "25eb8c48-ff89-4b85-8fc0-9081cc47edfc"


@pytest.fixture
def fixture_repo(tmp_path):
    """A copy of the fixture's folder (the original repo's layout), and the expected
    prompt ids and logits."""
    if not FIXTURE.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the original project's fixture {FIXTURE} is missing.")
        pytest.skip(f"the original project's fixture {FIXTURE} is not beside the checkout")
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns("expected", "README.md"))
    for path in repo.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared copy is read-only
    meta = json.loads((FIXTURE / f"expected/meta_{FIXTURE_GUID}.json").read_text())
    logits = np.load(FIXTURE / f"expected/logits_{FIXTURE_GUID}.npy")
    return repo, meta, logits


# ---- the original's maths, from its description, on its own entries --------------------------
def original_forward(folder, guid, ids):
    """Logits (B, T, V) of the original's model `guid` in `folder` for ids (B, T), computed
    as the original's code does (issue 11's description), from its JSON files directly."""
    cfg = json.loads((folder / original_files(guid)[0]).read_text())
    w = {k: np.asarray(v, dtype=float) if isinstance(v, list) else v
         for k, v in json.loads((folder / original_files(guid)[2]).read_text()).items()}
    h, S, att, net = cfg["n_heads"], cfg["head_size"], cfg["c_attention"], cfg["c_network"]
    d = S // h

    def layernorm(x, name):  # biased variance, eps 1e-5
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        beta = w[name + "_beta"]
        return (x - mu) / np.sqrt(var + 1e-5) * w[name + "_gamma"] + (0 if beta is None else beta)

    def linear(x, name):
        bias = w.get(name + "_bias")
        return x @ w[name + "_weight"] + (0 if bias is None else bias)

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    def softmax(z):
        z = np.exp(z - z.max(-1, keepdims=True))
        return z / z.sum(-1, keepdims=True)

    def attention(x, p):  # x (B, T, C) -> (B, T, C)
        B, T, _ = x.shape
        q, k, v = ((x @ w[f"{p}{n}_weight"]).reshape(B, T, h, d).transpose(0, 2, 1, 3)
                   for n in "qkv")
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + np.triu(np.full((T, T), -1e9), 1)
        o = softmax(scores) @ v                                    # (B, h, T, d)
        if att == "mha":
            return linear(o.transpose(0, 2, 1, 3).reshape(B, T, S), p + "c")
        g = softmax(linear(x, p + "g"))                            # (B, T, h)
        mixed = np.einsum("bth,bhtd->btd", g, o)                   # one d-vector per token
        return linear(mixed, p + "m")

    def network(x, p):
        if net == "mlp":
            return linear(gelu(linear(x, p + "proj_up")), p + "proj_dn")
        g = softmax(linear(x, p + "g"))                            # (B, T, E)
        experts = [linear(gelu(linear(x, f"{p}expert_{e}_up")), f"{p}expert_{e}_dn")
                   for e in range(w[p + "n_experts"])]
        return sum(g[..., e:e + 1] * y for e, y in enumerate(experts))

    x = w["wte_weight"][ids] + w["wpe_weight"][:ids.shape[1]]
    for i in range(cfg["n_layers"]):
        b = f"block_{i}_"
        if cfg["c_sequence"] == "pre":
            x = x + attention(layernorm(x, b + "ln1"), f"{b}{att}_")
            x = x + network(layernorm(x, b + "ln2"), f"{b}{net}_")
        else:
            x = layernorm(x + attention(x, f"{b}{att}_"), b + "ln1")
            x = layernorm(x + network(x, f"{b}{net}_"), b + "ln2")
    return linear(layernorm(x, "ln_f"), "lm_head")


# ---- writing the original's layout from a model of ours --------------------------------------
def original_like(**overrides):
    """A tiny float64 model of ours with only what the original's modules have: no q, k, v
    biases, no gate biases, and for moh a projection of n_heads identical stacked blocks."""
    baby, x, _ = tiny_baby(**overrides)
    cfg, p = baby.config, baby.params
    for i in range(cfg.n_layers):
        p[f"blocks.{i}.attn.qkv.bias"][:] = 0
        for key in (f"blocks.{i}.attn.gate.bias", f"blocks.{i}.net.gate.bias"):
            if key in p:
                p[key][:] = 0
        if cfg.c_attention == "moh":
            proj = p[f"blocks.{i}.attn.proj.weight"]
            proj[:] = np.tile(proj[:cfg.head_dim], (cfg.n_heads, 1))
    return baby, x


def write_original(baby, folder, guid, null_biases=()):
    """The original's three files for `baby` under `folder` (configs/, tokenizers/,
    models/), mapped back by the format's rules; `null_biases`: original names of biases
    written as null (their values must be 0). Returns `folder`."""
    cfg, p = baby.config, {k: np.asarray(v) for k, v in baby.params.items()}
    C, S, h, d, E = cfg.n_emb, cfg.head_size, cfg.n_heads, cfg.head_dim, cfg.n_experts
    w = {"wte_weight": p["wte.weight"], "wpe_weight": p["wpe.weight"],
         "ln_f_gamma": p["ln_f.weight"], "ln_f_beta": p["ln_f.bias"],
         "lm_head_weight": p["lm_head.weight"], "lm_head_bias": p["lm_head.bias"]}
    for i in range(cfg.n_layers):
        b, o = f"blocks.{i}.", f"block_{i}_"
        for ln in ("ln1", "ln2"):
            w[f"{o}{ln}_gamma"], w[f"{o}{ln}_beta"] = p[f"{b}{ln}.weight"], p[f"{b}{ln}.bias"]
        att = f"{o}{cfg.c_attention}_"
        assert not p[b + "attn.qkv.bias"].any(), "the original's q, k, v have no biases"
        for part, weight in zip("qkv", np.split(p[b + "attn.qkv.weight"], 3, axis=1)):
            w[f"{att}{part}_weight"] = weight                                   # (C, S)
        proj = p[b + "attn.proj.weight"]                                        # (S, C)
        if cfg.c_attention == "mha":
            w[att + "c_weight"], w[att + "c_bias"] = proj, p[b + "attn.proj.bias"]
        else:  # moh: one (d, C) block, of which our projection is n_heads copies
            assert (proj == np.tile(proj[:d], (h, 1))).all()
            assert not p[b + "attn.gate.bias"].any()
            w[att + "g_weight"], w[att + "g_bias"] = p[b + "attn.gate.weight"], None
            w[att + "m_weight"], w[att + "m_bias"] = proj[:d], p[b + "attn.proj.bias"]
        net = f"{o}{cfg.c_network}_"
        if cfg.c_network == "mlp":
            assert cfg.n_hidden == 4, "the original's mlp is 4 * n_emb wide"
            for theirs, ours in (("proj_up", "up"), ("proj_dn", "down")):
                w[f"{net}{theirs}_weight"] = p[f"{b}net.{ours}.weight"]
                w[f"{net}{theirs}_bias"] = p[f"{b}net.{ours}.bias"]
        else:  # moe: expert e owns a block of up's columns, of down's rows, row e of down.bias
            assert not p[b + "net.gate.bias"].any()
            w[net + "g_weight"], w[net + "g_bias"] = p[b + "net.gate.weight"], None
            w[net + "expansion"], w[net + "n_experts"] = cfg.n_hidden, E
            pieces = zip(np.split(p[b + "net.up.weight"], E, axis=1),
                         np.split(p[b + "net.up.bias"], E),
                         np.split(p[b + "net.down.weight"], E), p[b + "net.down.bias"])
            for e, piece in enumerate(pieces):
                for part, value in zip(("up_weight", "up_bias", "dn_weight", "dn_bias"), piece):
                    w[f"{net}expert_{e}_{part}"] = value
    for name in null_biases:
        assert not w[name].any(), f"{name} is written as null, so it must be 0"
        w[name] = None
    config = {"c_sequence": cfg.c_sequence, "c_attention": cfg.c_attention,
              "c_network": cfg.c_network, "n_ctx": cfg.n_ctx, "n_emb": C,
              "dropout": cfg.r_dropout, "head_size": S, "n_heads": h, "n_layers": cfg.n_layers,
              "num_epochs": cfg.n_epochs, "batch_size": cfg.batch_size, "lr": cfg.r_learn}
    symbols = baby.tokenizer.symbols
    files = dict(zip(original_files(guid), (
        config, {"vocab": symbols, "vocab_size": len(symbols)},
        {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in w.items()})))
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(json.dumps(data, indent=1))
    return folder


# ---- the fixture: the original's own files and logits ----------------------------------------
def test_the_originals_model_gives_its_logits_by_guid_then_from_the_store(fixture_repo, tmp_path):
    repo, meta, expected = fixture_repo
    store = tmp_path / "store"
    baby = LittleBaby.from_pretrained(FIXTURE_GUID, repo=repo, store=store, d_type="fp64")
    ids = np.asarray(meta["ids"])
    assert baby.tokenizer.encode(meta["prompt"]).tolist() == ids[0].tolist()
    assert baby.logits(ids).shape == expected.shape
    np.testing.assert_allclose(baby.logits(ids), expected, rtol=0, atol=1e-6)
    cfg = baby.config
    assert (baby.guid, cfg.c_sequence, cfg.c_attention, cfg.c_network) == (
        FIXTURE_GUID, "pre", "mha", "mlp")

    folder = store / FIXTURE_GUID  # converted once: our files, and where they came from
    assert sorted(f.name for f in folder.iterdir()) == [
        "config.json", "model.safetensors", "report.json", "tokenizer.json"]
    report = json.loads((folder / "report.json").read_text())
    assert report["origin"] == {"kind": "converted", "folder": str(repo.resolve())}
    assert report["original"]["files"] == {
        name: hashlib.sha256((repo / name).read_bytes()).hexdigest()
        for name in original_files(FIXTURE_GUID)}
    assert report["lineage"] == [] and report["n_params"] == baby.n_params

    shutil.rmtree(repo)  # the second load cannot have read the original's files
    again = LittleBaby.from_pretrained(FIXTURE_GUID, repo=repo, store=store, d_type="fp64")
    assert again.source["folder"] == folder
    np.testing.assert_array_equal(again.logits(ids), baby.logits(ids))
    fp32 = LittleBaby.from_pretrained(FIXTURE_GUID, store=store)  # the config's own d_type
    np.testing.assert_allclose(fp32.logits(ids), expected, rtol=0, atol=1e-5)


def test_the_reference_maths_gives_the_fixtures_logits(fixture_repo):
    """original_forward, the yardstick of the round trips below, is the original's maths."""
    repo, meta, expected = fixture_repo
    got = original_forward(repo, FIXTURE_GUID, np.asarray(meta["ids"]))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


# ---- round trips: our model -> the original's layout -> our model ------------------------------
VARIANTS = [dict(c_attention="mha", c_network="mlp"), dict(c_attention="moh", c_network="moe"),
            dict(c_attention="moh", c_network="mlp"),
            dict(c_attention="mha", c_network="moe", n_experts=3, n_hidden=2)]


@pytest.mark.parametrize("sequence", ["pre", "post"])
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_files_written_in_the_originals_layout_load_to_the_same_logits(tmp_path, sequence, variant):
    baby, x = original_like(c_sequence=sequence, **variant)
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    converted = LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
    assert converted.config.to_dict() == {**baby.config.to_dict(), "d_type": "fp32"}
    assert converted.tokenizer == baby.tokenizer
    converted = LittleBaby.from_pretrained(guid, store=tmp_path / "store", d_type="fp64")
    for key, value in baby.params.items():
        np.testing.assert_array_equal(converted.params[key], value, err_msg=key)
    np.testing.assert_array_equal(converted.logits(x), baby.logits(x))
    np.testing.assert_allclose(converted.logits(x), original_forward(repo, guid, x),
                               rtol=0, atol=1e-12)


def test_null_biases_are_zeros(tmp_path):
    baby, x = original_like()
    for key in ("lm_head.bias", "blocks.0.attn.proj.bias", "blocks.1.net.down.bias"):
        baby.params[key][:] = 0
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid, null_biases=(
        "lm_head_bias", "block_0_mha_c_bias", "block_1_mlp_proj_dn_bias"))
    assert json.loads((repo / original_files(guid)[2]).read_text())["lm_head_bias"] is None
    converted = LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store",
                                           d_type="fp64")
    np.testing.assert_array_equal(converted.logits(x), baby.logits(x))
    np.testing.assert_allclose(converted.logits(x), original_forward(repo, guid, x),
                               rtol=0, atol=1e-12)


# ---- bad files: the error names the entry; nothing is written ---------------------------------
def _entries_changed(repo, guid, change):
    path = repo / original_files(guid)[2]
    entries = json.loads(path.read_text())
    change(entries)
    path.write_text(json.dumps(entries))


def _rename(old, new):
    def change(entries):
        entries[new] = entries.pop(old)
    return change


def _set(name, value):
    def change(entries):
        entries[name] = value(entries[name]) if callable(value) else value
    return change


def _drop(name):
    def change(entries):
        del entries[name]
    return change


BAD_ENTRIES = {
    "misnamed": (_rename("block_0_mha_q_weight", "block_0_mha_query_weight"),
                 r"cannot place 'block_0_mha_query_weight': block 0's mha attention has the "
                 r"parts .*q_weight.*; it also lacks 'block_0_mha_q_weight'"),
    "missing": (_drop("block_1_mlp_proj_dn_bias"),
                r"no 'block_1_mlp_proj_dn_bias', which block 1's mlp network .*needs "
                r"\(a vector of shape \(8,\) or null\)"),
    "a layer too many": (_set("block_2_mha_q_weight", [[0.0]]),
                         r"cannot place 'block_2_mha_q_weight': the config has n_layers 2"),
    "another variant": (_rename("block_0_mha_q_weight", "block_0_moh_q_weight"),
                        r"cannot place 'block_0_moh_q_weight': the config says c_attention 'mha'"),
    "transposed": (_set("block_1_mlp_proj_up_weight", lambda v: np.asarray(v).T.tolist()),
                   r"'block_1_mlp_proj_up_weight' has shape \(32, 8\), but block 1's mlp network "
                   r"needs a matrix of shape \(8, 32\) \(stored \(out, in\)\?"),
    "a list where a matrix belongs": (
        _set("wpe_weight", lambda v: np.ravel(v).tolist()),
        r"'wpe_weight' has shape \(64,\), but the position embedding needs a matrix of shape "
        r"\(8, 8\) \(a vector where a matrix belongs\)"),
    "ragged": (_set("wte_weight", [[0.0, 1.0], [2.0]]), r"'wte_weight' is not a rectangular list"),
    "NaN": (_set("ln_f_beta", [float("nan")] * 8), r"'ln_f_beta' holds NaN or infinite values"),
    "infinity": (_set("block_0_ln1_gamma", [1.0] * 7 + [float("inf")]),
                 r"'block_0_ln1_gamma' holds NaN or infinite values \(first at index \(7,\)\)"),
    "text": (_set("block_0_mha_k_weight", "[[0.1]]"), r"'block_0_mha_k_weight' holds str"),
    "a null weight": (_set("block_0_mha_v_weight", None),
                      r"'block_0_mha_v_weight' is null, but block 0's mha attention needs "
                      r"a matrix"),
    "strings in a list": (_set("ln_f_gamma", ["1.0"] * 8),
                          r"'ln_f_gamma' is not a rectangular list"),
}


@pytest.mark.parametrize("case", BAD_ENTRIES)
def test_a_bad_entry_is_named_and_nothing_is_written(tmp_path, case):
    change, message = BAD_ENTRIES[case]
    baby, _ = original_like()
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    _entries_changed(repo, guid, change)
    with pytest.raises(WeightsError, match=message):
        LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_moe_settings_come_from_the_weights_file_and_must_agree(tmp_path):
    baby, _ = original_like(c_network="moe", n_experts=3, n_hidden=2)
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    converted = LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "first")
    assert (converted.config.n_experts, converted.config.n_hidden) == (3, 2)  # not the defaults

    _entries_changed(repo, guid, _set("block_1_moe_expansion", 3))
    with pytest.raises(WeightsError, match=r"'block_0_moe_expansion' is 2 but "
                                           r"'block_1_moe_expansion' is 3"):
        LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
    _entries_changed(repo, guid, _set("block_1_moe_expansion", 2.5))
    with pytest.raises(WeightsError, match=r"'block_1_moe_expansion' is the setting n_hidden"):
        LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_bad_config_and_tokenizer_files_are_named(tmp_path):
    baby, _ = original_like()
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    config_path, tokenizer_path, _ = (repo / n for n in original_files(guid))
    config, tokenizer = json.loads(config_path.read_text()), tokenizer_path.read_text()

    def fails(error, message):
        with pytest.raises(error, match=message):
            LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
        assert not (tmp_path / "store").exists()

    config_path.write_text(json.dumps({**config, "n_leyers": 3}))
    fails(ConfigError, rf"config_{guid}\.json: unknown config key.*n_leyers")
    config_path.write_text(json.dumps({**config, "c_attention": "gqa"}))
    fails(WeightsError, r"a gqa/mlp model cannot be converted: .* mha and moh attention")
    config_path.write_text(json.dumps({**config, "vocab_size": 8}))
    fails(TokenizerError, r"has 7 symbols, but .* says vocab_size 8")
    config_path.write_text(json.dumps(config))
    tokenizer_path.write_text(json.dumps({"vocab": list("abcdefg"), "vocab_size": 6}))
    fails(TokenizerError, r"lists 7 symbols but says vocab_size 6")
    tokenizer_path.write_text(json.dumps({"itos": list("abcdefg")}))
    fails(TokenizerError, r'not the original\'s tokenizer: expected \{"vocab"')
    tokenizer_path.write_text(tokenizer[:-3])
    fails(TokenizerError, r"is not valid JSON")

    tokenizer_path.write_text(tokenizer)
    config_path.write_text(json.dumps({**config, "infr_cache": True, "max_tokens": 100,
                                       "c_device": "gpu", "d_type": "fp16"}))
    converted = LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
    assert (converted.config.c_device, converted.config.d_type) == ("cpu", "fp32")


def test_an_existing_folder_is_not_overwritten(tmp_path):
    baby, _ = original_like()
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    (tmp_path / "store" / guid).mkdir(parents=True)  # e.g. a run that was stopped
    with pytest.raises(ModelFolderError, match="already exists"):
        LittleBaby.from_pretrained(guid, repo=repo, store=tmp_path / "store")
    assert list((tmp_path / "store" / guid).iterdir()) == []


# ---- the command line ------------------------------------------------------------------------
def test_convert_and_info_on_the_command_line(tmp_path, capsys):
    baby, x = original_like(c_attention="moh", c_network="moe")
    guid = new_guid()
    repo = write_original(baby, tmp_path / "repo", guid)
    store = str(tmp_path / "store")
    assert main(["convert", str(repo), guid, "--store", store]) == 0
    out = capsys.readouterr().out
    assert f"converted {guid} (pre/moh/moe" in out and out.strip().endswith(f"{store}/{guid}")
    converted = LittleBaby.from_pretrained(guid, store=store, d_type="fp64")
    np.testing.assert_array_equal(converted.logits(x), baby.logits(x))

    assert main(["info", guid, "--store", store]) == 0
    out = capsys.readouterr().out
    assert "origin     Converted from the JSON files of the original project" in out
    assert str(repo) in out and "lineage" not in out

    assert main(["convert", str(repo), guid, "--store", store]) == 2  # there already
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(repo), guid, "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "model.safetensors").is_file()

    _entries_changed(repo, guid, _drop("block_0_moe_expert_1_dn_weight"))
    assert main(["convert", str(repo), guid, "--out", str(tmp_path / "bad")]) == 2
    assert "'block_0_moe_expert_1_dn_weight'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert main(["convert", str(repo), new_guid(), "--out", str(tmp_path / "bad")]) == 2
    assert "has no configs/config_" in capsys.readouterr().err
