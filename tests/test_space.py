"""The Gradio Space (spaces/): its handlers and pictures with a tiny model, then the app
launched on 127.0.0.1 and driven over HTTP with gradio_client."""
import importlib
import os
import re
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import SpaceCard
from packaging.requirements import Requirement

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.engine.sampling import sample
from tests.little_texts import english


def need(module):
    """`module`, imported. Under CI a missing one fails (the dev extra installs it);
    elsewhere the test skips and says how to get it."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason='the Space needs it: pip install -e ".[dev]"')


gr = need("gradio")
need("plotly")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spaces"))
from baby_space.handlers import Handlers, Limits  # noqa: E402
from baby_space.models import Shelf, age_choices, choice_for, model_summary  # noqa: E402
from baby_space.pictures import (attention_overview, overview_geometry, sampling_cut,  # noqa: E402
                                 tile_at)
from baby_space.ui import build_demo, launch  # noqa: E402

# gradio 6.31's queue calls pandas options that pandas 3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated:Warning:gradio.queueing")
PROMPT = "The baby sat by the"
UNKNOWN_GUID = "00000000-0000-4000-8000-000000000000"  # a GUID no model has


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """An untrained 1-layer, 2-head model of english()'s characters, saved: its folder."""
    baby = LittleBaby(BabyConfig(n_layers=1, n_emb=16, head_size=16, n_heads=2, n_ctx=16),
                      CharTokenizer.from_text(english()))
    folder = tmp_path_factory.mktemp("space") / "tiny"
    baby.save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny(tiny_folder):
    """(key, model): what the page and the API call the tiny model ('tiny', its folder's
    name; never its path), and the model."""
    return "tiny", LittleBaby.load(tiny_folder)


@pytest.fixture(scope="module")
def handlers(tiny_folder):
    return Handlers(Shelf([choice_for(tiny_folder)], device="cpu"))


def final(updates):
    """The last of a handler's updates (inspect and generate yield them one by one)."""
    *_, last = updates
    return last


@pytest.fixture
def offline(hub_env, tmp_path, monkeypatch):
    """No network for the Hub client and an empty model store: nothing but the tiny model."""
    hub_env.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LITTLE_BABY_STORE", str(tmp_path / "store"))


# ---- the sampling cut: the bars must show what sample() does ---------------------------------
@pytest.mark.parametrize("temperature, top_k, top_p", [
    (1.0, None, None), (0.7, 5, None), (1.3, None, 0.6), (0.9, 8, 0.8), (1.0, 1, None)])
def test_the_cut_is_what_sample_draws_from(temperature, top_k, top_p):
    logits = np.random.default_rng(3).normal(0, 2, 30)
    cut = sampling_cut(logits, temperature, top_k, top_p)
    assert cut.after.sum() == pytest.approx(1) and cut.before.sum() == pytest.approx(1)
    rng = np.random.default_rng(0)
    draws = np.bincount([sample(logits, rng, temperature, top_k, top_p) for _ in range(4000)],
                        minlength=30) / 4000
    assert set(np.flatnonzero(draws)) <= set(np.flatnonzero(cut.kept))  # nothing cut is drawn
    assert np.abs(draws - cut.after).max() < 0.035  # and the kept are drawn as often as shown
    if top_k:
        assert cut.kept_by_k.sum() == top_k and cut.kept.sum() <= top_k


def test_temperature_zero_keeps_only_the_likeliest():
    logits = np.array([0.1, 2.0, 1.9, -1.0])
    cut = sampling_cut(logits, 0, 3, 0.9)
    assert cut.kept.tolist() == [False, True, False, False] and cut.after[1] == 1


# ---- the model's numbers ----------------------------------------------------------------------
def test_summary_gives_the_models_numbers(handlers, tiny):
    summary, card = handlers.summary(tiny[0])
    assert f"- **parameters**: {tiny[1].n_params:,}\n" in summary
    assert "- **context**: 16 characters\n" in summary and "1 × 2" in summary
    assert card == "This model's folder has no card."


def test_summary_of_a_trained_model_says_how_it_was_trained(tiny_folder):
    baby = LittleBaby.load(tiny_folder)
    baby.report = {"final": {"val_loss": 1.2346, "step": 500},
                   "corpus": {"path": "/x/shakespeare.txt", "n_chars": 1115393},
                   "timings": {"seconds": 600}, "hardware": {"device": "cpu", "cpu_count": 2},
                   "status": "complete"}
    text = model_summary("age-48-months", baby)
    assert text.startswith("**48 months (age-48-months)** · GUID `12b8b053-")
    assert "1.235 nats" in text and "shakespeare.txt (1,115,393 characters)" in text
    assert "500 steps, 10 min on CPU, 2 cores" in text
    assert baby.tokenizer.describe() in text  # the vocabulary as info and the card say it


def test_the_picker_offers_the_five_ages_by_age_and_guid():
    choices = age_choices()
    assert [c.name for c in choices] == ["age-3-months", "age-6-months", "age-12-months",
                                         "age-24-months", "age-48-months"]
    assert choices[-1].label == "48 months · 12b8b053-6c14-42aa-a957-89b809e6f785"
    assert Shelf(choices, device="cpu").default == "age-48-months"


def test_a_model_that_is_not_here_is_a_message_not_a_crash(offline, tiny_folder):
    h = Handlers(Shelf(age_choices(), device="cpu"))
    summary, card = h.summary(UNKNOWN_GUID)
    assert summary.startswith("**Cannot open this model.** Cannot open " + UNKNOWN_GUID)
    assert "HF_HUB_OFFLINE" in summary and card == ""
    *_, status = h.summary_and_status(UNKNOWN_GUID)  # said under Generate too, where one looks
    assert status.startswith("**Failed:** Cannot open " + UNKNOWN_GUID)
    updates = h.generate(UNKNOWN_GUID, "hi")
    assert next(updates) == ("", "**Failed:** " + summary.split("** ", 1)[1])  # text emptied
    with pytest.raises(gr.Error, match="Cannot open " + UNKNOWN_GUID):
        next(updates)
    for path in (tiny_folder, "/etc", "../spaces", "~"):  # folders the Space was not started with
        with pytest.raises(gr.Error, match="opens only the folders it was started with"):
            h.model(path)
    with pytest.raises(gr.Error, match="not a model name|is not|no model") as caught:
        h.model("nonsense name!")
    assert "Not available" not in caught.value.message


# ---- generating ----------------------------------------------------------------------------------
def test_generate_streams_the_models_own_text(handlers, tiny):
    folder, baby = tiny
    updates = list(handlers.generate(folder, PROMPT, 12, 0.8, 5, 0.9, 7, True))
    expected = baby.generate(PROMPT, max_new_tokens=12, temperature=0.8, top_k=5, top_p=0.9, seed=7)
    texts = [u[0] for u in updates]
    assert texts[-1] == expected and len(expected) == 12
    assert [len(t) for t in texts[1:-1]] == list(range(1, 13))  # one more token each update
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert updates[-1][1].startswith("**12 tokens in ") and "tokens/s**" in updates[-1][1]
    no_cache = list(handlers.generate(folder, PROMPT, 12, 0.8, 5, 0.9, 7, False))
    assert no_cache[-1][0] == expected and "KV cache off" in no_cache[-1][1]


def test_unknown_characters_are_named(handlers, tiny):
    with pytest.raises(gr.Error) as caught:
        final(handlers.generate(tiny[0], "The baby é€ é", 5))
    assert "does not know 2 of the prompt's characters: 'é', '€'." in caught.value.message
    with pytest.raises(gr.Error, match="'€'"):
        final(handlers.inspect(tiny[0], "€", 1, 1))


def test_the_controls_say_what_turns_them_off_as_sampling_does(tiny, tiny_folder,
                                                               monkeypatch):
    """The note beside top-k's range comes from sampling.OFF, not a copy of its value."""
    from little_baby.engine.sampling import OFF
    monkeypatch.setitem(OFF, "top_k", 7)
    h = Handlers(Shelf([choice_for(tiny_folder)], device="cpu"), Limits(time_limit=0))
    with pytest.raises(gr.Error, match=re.escape("(7: off), not -3.")):
        final(h.generate(tiny[0], "The", 5, 1.0, -3))


def test_the_limits_hold(tiny, tiny_folder):
    h = Handlers(Shelf([choice_for(tiny_folder)], device="cpu"),
                 Limits(max_new_tokens=50, time_limit=0))
    with pytest.raises(gr.Error, match=re.escape("max_new_tokens must be a whole number from 1 "
                                                 "to 50, not 51.")):
        final(h.generate(tiny[0], "The", 51))
    with pytest.raises(gr.Error, match=re.escape("top_p must be a number in (0, 1] (1: off), "
                                                 "not 0.0.")):
        final(h.generate(tiny[0], "The", 5, 1.0, 0, 0.0))
    with pytest.raises(gr.Error, match=re.escape("top_k must be a whole number from 0 to 100000 "
                                                 "(0: off), not -3.")):
        final(h.generate(tiny[0], "The", 5, 1.0, -3))
    with pytest.raises(gr.Error, match=re.escape("temperature must be a number from 0 to 2, "
                                                 "not -0.5.")):
        final(h.generate(tiny[0], "The", 5, -0.5))
    last = final(h.generate(tiny[0], "The", 50))  # a time limit of 0 s: stopped after one token
    assert len(last[0]) == 1 and "stopped at the 0 s limit" in last[1]


@pytest.mark.parametrize("setting, args, value", [
    ("max_new_tokens", (), float("nan")), ("temperature", (5,), float("inf")),
    ("top_k", (5, 0.8), "40"), ("top_p", (5, 0.8, 40), float("nan")),
    ("seed", (5, 0.8, 40, 1.0), 1.5), ("use_cache", (5, 0.8, 40, 1.0, 1), "yes"),
    ("temperature", (5,), True), ("max_new_tokens", (), None)])
def test_nan_infinity_and_text_are_named_errors(handlers, tiny, setting, args, value):
    updates = handlers.generate(tiny[0], "The", *args, value)
    assert next(updates)[1].startswith(f"**Failed:** {setting} must be ")
    with pytest.raises(gr.Error) as caught:
        next(updates)
    assert re.fullmatch(f"{setting} must be .*, not {re.escape(repr(value))}[.]",
                        caught.value.message)
    with pytest.raises(gr.Error, match="temperature must be a number from 0 to 2, not .hot.[.]"):
        handlers.probability_view(None, "hot", 0, 1.0)
    with pytest.raises(gr.Error, match="layer must be a whole number from 1 to 10000, not nan"):
        handlers.attention_view(None, float("nan"), 1)
    with pytest.raises(gr.Error, match="prompt must be text, not int"):
        final(handlers.generate(tiny[0], 12))
    with pytest.raises(gr.Error, match="A model's name is text"):
        final(handlers.generate(3, "The"))


def test_a_long_prompt_keeps_its_end_and_says_so(handlers, tiny):
    key, baby = tiny
    prompt = "The cat sat on the mat. " * 200 + "The baby"  # 4,808 characters; n_ctx is 16
    text, status = final(handlers.generate(key, prompt, 8, 0, 0, 1.0, 1))
    assert text == baby.generate(prompt[-16:], max_new_tokens=8, temperature=0)
    assert ("the prompt has 4,808 characters and this model reads only its last 16 (its "
            "context), so the first 4,792 were left out") in status
    _, status = final(handlers.generate(key, "The baby", 2))
    assert "left out" not in status
    far = Handlers(handlers.shelf, Limits(max_prompt=100))  # past max_prompt: not even read
    _, status = final(far.generate(key, "é" * 1000 + prompt, 2))  # the é are never read
    assert "the prompt has 5,808 characters" in status


def test_the_queue_is_bounded(tiny_folder):
    demo = build_demo(Shelf([choice_for(tiny_folder)], device="cpu"),
                      Limits(concurrency=1, queue_size=3))
    assert (demo._queue.max_size, demo._queue.default_concurrency_limit) == (3, 1)
    served = {f.api_name: f.concurrency_limit for f in demo.fns.values()}
    assert served["generate"] == served["inspect"] == Limits().loaders  # most of them wait
    h = Handlers(Shelf([choice_for(tiny_folder)], device="cpu"),
                 Limits(concurrency=1, place_wait=0.2))
    with h.place():  # the one place where a model runs is taken: a model waits, then says so
        updates = h.generate("tiny", "The", 5)
        assert next(updates) == ("", "Generating…")
        assert next(updates)[1].startswith("**Failed:** This Space is busy")
        with pytest.raises(gr.Error, match="This Space is busy"):
            next(updates)
    assert len(final(h.generate("tiny", "The", 5))[0]) == 5  # the place is free again


# ---- looking inside -----------------------------------------------------------------------------
def test_inspect_shows_the_models_attention_and_logits(handlers, tiny):
    folder, baby = tiny
    updates = list(handlers.inspect(folder, PROMPT, 1, 2, 1.0, 0, 1.0))
    assert updates[0][0] is None and updates[0][7:9] == ("", "Opening the model and reading "
                                                             "the prompt…")  # text emptied
    state, heat, overview, bars, layer, head, note, text, status, *sliders = updates[-1]
    ids = baby.tokenizer.encode(PROMPT)[-16:]  # the context window: the last 16 characters
    logits, attention = baby.logits(ids[None], return_attention=True)
    np.testing.assert_allclose(state["logits"], logits[0, -1], rtol=1e-6)
    np.testing.assert_allclose(state["attention"][0], attention[0][0], rtol=1e-6)
    assert "the last 16 of the prompt's 19 symbols" in note
    assert layer == {"choices": [1], "value": 1, "visible": True, "__type__": "update"}
    assert head["choices"] == [1, 2] and not any(s["visible"] for s in sliders)  # buttons
    z = np.array(heat.data[0].z, dtype=float)  # head 2 of layer 1: sqrt(weight), the future blank
    want = np.where(np.triu(np.ones((16, 16), bool), 1), np.nan, np.sqrt(attention[0][0, 1]))
    np.testing.assert_allclose(z, want, rtol=1e-6)
    assert list(heat.layout.yaxis.ticktext) == [c if c != " " else "␣" for c in PROMPT[-16:]]
    assert heat.data[0].text[4][2].startswith("'y' (#4) → 'a' (#2): ")
    assert heat.layout.title.text.startswith("Layer 1, head 2")
    assert overview.size == overview_geometry(1, 2, 16).size


def test_the_bars_follow_the_sliders_without_running_the_model(handlers, tiny, monkeypatch):
    state = final(handlers.inspect(tiny[0], PROMPT, 1, 1))[0]
    monkeypatch.setattr(LittleBaby, "logits", lambda *a, **k: pytest.fail("the model ran"))
    monkeypatch.setattr(LittleBaby, "stream", lambda *a, **k: pytest.fail("the model ran"))
    for temperature, top_k, top_p in [(1.0, 0, 1.0), (0.5, 3, 1.0), (1.5, 0, 0.5), (0, 0, 1.0)]:
        fig = handlers.probability_view(state, temperature, top_k, top_p)
        cut = sampling_cut(state["logits"], temperature, top_k or None,
                           top_p if top_p < 1 else None)
        before, after, key = (np.array(t.y) for t in fig.data)  # key: the legend's "cut away"
        shown = np.argsort(-cut.before, kind="stable")[:len(before)]
        np.testing.assert_allclose(before, cut.before[shown])
        np.testing.assert_allclose(after, cut.after[shown])
        hatched = [p == "x" for p in fig.data[0].marker.pattern.shape]
        assert hatched == [not k for k in cut.kept[shown]]  # the cut candidates are marked
        assert fig.layout.title.text.startswith(f"Next symbol: {int(cut.kept.sum())} of "
                                                f"{len(state['symbols'])} kept")
        assert fig.data[2].name == "cut away" and fig.data[2].marker.pattern.shape == "x"
    heat = handlers.attention_view(state, 1, 2)
    assert heat.layout.title.text.startswith("Layer 1, head 2")


def test_the_overview_tiles_each_head_and_a_click_picks_it(handlers, tiny):
    rng = np.random.default_rng(0)
    att = [rng.dirichlet(np.ones(5), (3, 5)).astype(np.float32) * np.tri(5) for _ in range(2)]
    image, g = attention_overview(att)  # 2 layers x 3 heads of 5 x 5
    pixels = np.asarray(image)
    assert image.size == g.size == (g.left + 3 * (g.tile + g.gap), g.top + 2 * (g.tile + g.gap))
    for layer in range(2):
        for head in range(3):
            x0, y0 = g.corner(layer, head)
            assert tile_at(g, x0 + g.tile // 2, y0 + g.tile // 2) == (layer, head)
            tile = pixels[y0:y0 + g.tile, x0:x0 + g.tile]
            assert (tile[0, -1] == (236, 236, 236)).all()  # the future, top right, is grey
            assert len(np.unique(tile.reshape(-1, 3), axis=0)) > 3  # the past is coloured
    assert tile_at(g, g.left + g.tile + 1, g.top + 1) is None  # a gap
    long = np.tri(128) * np.arange(1, 129)  # rows growing towards the diagonal
    long = (long / long.sum(1, keepdims=True))[None]  # (1 head, 128, 128)
    long[0, 100] = 0.0
    long[0, 100, 3] = 1.0  # position 100 looks only at 3
    image, g = attention_overview([long])
    assert (g.pool, g.tile, image.size) == (2, 64, g.size)  # 2 x 2 cells pooled per pixel
    x0, y0 = g.corner(0, 0)
    tile = np.asarray(image)[y0:y0 + 64, x0:x0 + 64].astype(int)
    assert tile[50, 1].sum() > tile[50, 20].sum() + 200  # the strong link shows, pooled
    assert tile_at(g, 1, 1) is None  # a label
    state = final(handlers.inspect(tiny[0], PROMPT, 1, 1))[0]
    geometry = overview_geometry(1, 2, 16)
    x, y = geometry.corner(0, 1)
    click = gr.SelectData(None, {"index": [x + 3, y + 3], "value": None})
    picked = handlers.pick_tile(state, click)
    assert [p["value"] for p in picked] == [1, 2, 1, 2]  # the buttons and the sliders


def test_many_heads_get_a_slider_a_few_get_buttons(tmp_path):
    from baby_space.handlers import MAX_BUTTONS
    n = MAX_BUTTONS + 1
    LittleBaby(BabyConfig(n_layers=2, n_emb=2 * n, head_size=2 * n, n_heads=n, n_ctx=16),
               CharTokenizer.from_text(english())).save(tmp_path / "many")
    h = Handlers(Shelf([choice_for(str(tmp_path / "many"))], device="cpu"))
    *_, layers, heads, note, text, status, layer_slider, head_slider = final(
        h.inspect("many", PROMPT, 2, n))
    assert layers["visible"] and layers["choices"] == [1, 2] and not layer_slider["visible"]
    assert not heads["visible"] and head_slider["visible"] and head_slider["maximum"] == n
    assert heads["value"] == head_slider["value"] == n


# ---- the Space's files --------------------------------------------------------------------------
SPACE = Path(__file__).resolve().parents[1] / "spaces"


def requirements():
    """{name: specifier} of spaces/requirements.txt."""
    lines = (SPACE / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name.lower().replace("_", "-"): r.specifier for r in reqs}


def test_the_space_card_is_what_the_hub_reads():
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")
    data = SpaceCard.load(SPACE / "README.md").data
    assert data.sdk == "gradio" and (SPACE / data.app_file).is_file()
    assert data.license == "apache-2.0" and 0 < len(data.short_description) <= 60  # the Hub's cap
    assert data.title and data.emoji and data.models == ["koureasstavros/TheLittleBaby"]
    colors = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert data.colorFrom in colors and data.colorTo in colors
    extras = tomllib.loads((SPACE.parent / "pyproject.toml").read_text())["project"]
    space_extra = {Requirement(r).name: Requirement(r).specifier
                   for r in extras["optional-dependencies"]["space"]}
    assert data.sdk_version in space_extra["gradio"]
    assert data.sdk_version in requirements()["gradio"]
    assert data.sdk_version.split(".")[0] == gr.__version__.split(".")[0]
    for dependency in extras["dependencies"] + extras["optional-dependencies"]["space"]:
        name = Requirement(dependency).name.lower().replace("_", "-")
        assert name in requirements(), f"spaces/requirements.txt lacks {name}"


# ---- end to end: the app on 127.0.0.1, driven with gradio_client -----------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_call(url, endpoint, body):
    """What the app streams back for a call of `endpoint` with the JSON text `body`, sent
    as is (NaN and Infinity included, which gradio_client will not send)."""
    import json
    import urllib.request
    request = urllib.request.Request(f"{url}gradio_api/call/{endpoint}", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        event = json.loads(answer.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{endpoint}/{event}", timeout=60) as answer:
        return answer.read().decode()


def test_the_app_over_http(tiny, tiny_folder, offline, monkeypatch):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    looked_up = []  # every host name resolved while the app runs: none may leave the machine
    real_getaddrinfo = socket.getaddrinfo
    def getaddrinfo(host, *args, **kwargs):
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    folder, baby = tiny  # the page and the API call it 'tiny': its path stays on the server
    demo = build_demo(Shelf([choice_for(tiny_folder), *age_choices()], device="cpu"))
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and demo.analytics_enabled is False
    _, url, share_url = launch(demo, server_name="127.0.0.1", server_port=free_port(),
                               prevent_thread_lock=True, quiet=True)
    try:
        assert share_url is None and url.startswith("http://127.0.0.1:")
        client = Client(url, verbose=False, analytics_enabled=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/generate", "/inspect", "/attention", "/probabilities", "/summary"} <= set(api)
        assert [p["parameter_name"] for p in api["/generate"]["parameters"]] == [
            "model", "prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed",
            "use_cache"]
        expected = baby.generate(PROMPT, max_new_tokens=10, temperature=0.8, top_k=5, seed=3)
        text, status = client.predict(folder, PROMPT, 10, 0.8, 5, 1.0, 3, api_name="/generate")
        assert text == expected and "tokens/s" in status
        job = client.submit(folder, PROMPT, 10, 0.8, 5, 1.0, 3, api_name="/generate")
        streamed = [update[0] for update in job]
        assert streamed[-1] == expected and len(streamed) > 2  # it streams
        with pytest.raises(AppError, match="does not know 1 of the prompt's characters: 'é'"):
            client.predict(folder, "café", 5, api_name="/generate")
        with pytest.raises(AppError, match="Cannot open " + UNKNOWN_GUID):
            client.predict(UNKNOWN_GUID, "hi", 5, api_name="/generate")
        summary, _, _ = client.predict(folder, api_name="/summary")
        assert f"{baby.n_params:,}" in summary
        for args, said in [('"tiny", "The", NaN, 0.8, 40, 1, 1, true', "max_new_tokens must be a whole number from "
                             "1 to 1000, not nan."),  # JSON as Python writes it, NaN and all
                            ('"tiny", "The", 5, Infinity, 40, 1, 1, true', "temperature must be a number from 0 "
                             "to 2, not inf."),
                            ('"tiny", "The", 5, 0.8, "forty", 1, 1, true', "top_k must be a whole number "
                             "from 0 to 100000 (0: off), not 'forty'.")]:
            assert said in raw_call(url, "generate", f'{{"data": [{args}]}}')
        with pytest.raises(AppError) as caught:  # a path names no server folder back
            client.predict(str(Path(tiny_folder).parent), "hi", 5, api_name="/generate")
        assert "/tmp" not in str(caught.value) and "opens only the folders" in str(caught.value)
        import urllib.request
        for page in ("", "config", "gradio_api/info"):
            with urllib.request.urlopen(url + page, timeout=10) as answer:
                assert tiny_folder not in answer.read().decode(), page
        client.predict(folder, PROMPT, 1, 1, 1.0, 0, 1.0, api_name="/inspect")
        wide = client.predict(1.0, 0, 1.0, api_name="/probabilities")  # from the session's state
        narrow = client.predict(1.0, 2, 1.0, api_name="/probabilities")
        assert "2 of " in str(narrow) and "2 of " not in str(wide)
        assert "Layer 1, head 2" in client.predict(1, 2, api_name="/attention")["plot"]
    finally:
        demo.close()
    assert set(looked_up) <= {"127.0.0.1", "localhost", "::1", None}, looked_up


def test_auto_picks_the_gpu_only_where_cupy_runs(monkeypatch):
    """The Space asks the engine's one CuPy check (a CuPy that sees no GPU means the CPU)."""
    from baby_space.models import pick_device
    from tests import cupy_standin
    with cupy_standin.installed() as cp:
        assert pick_device("auto") == "gpu"
        monkeypatch.setattr(cp.cuda.runtime, "getDeviceCount", lambda: 0)
        assert pick_device("auto") == "cpu" and pick_device("gpu") == "gpu"
