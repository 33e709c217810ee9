"""The Space's shelf of models under hostile visitors: sizes checked before a download
(by the library's fetch, given the Space's limits: tests/test_hub.py shows each file of
every layout sized before any download, and the download pinned to the commit sized),
refusals remembered, memory bounded and given back, one lock per model, a deadline on
loads, Hub failures said as the Hub said them, no server path in any message. The Hub is
the loopback stand-in (tests/hub_server.py); nothing leaves 127.0.0.1."""
import gc
import json
import os
import re
import sys
import threading
import time
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from tests.little_texts import english

gr = pytest.importorskip("gradio", reason='the Space needs it: pip install -e ".[dev]"')
pytest.importorskip("plotly", reason='the Space needs it: pip install -e ".[dev]"')
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spaces"))
from baby_space.fetch import (GRACE, PLACES, child_path,  # noqa: E402
                              remove_partial_downloads)
from baby_space.handlers import Handlers, Limits  # noqa: E402
from baby_space.models import (ModelUnavailable, Shelf, ShelfLimits, choice_for,  # noqa: E402
                               choices_from_env, public)

MiB = 2 ** 20


def tiny_model(n_layers=1, n_heads=2, head_size=16, n_emb=16, n_ctx=16):
    return LittleBaby(BabyConfig(n_layers=n_layers, n_emb=n_emb, head_size=head_size,
                                 n_heads=n_heads, n_ctx=n_ctx), CharTokenizer.from_text(english()))


def saved(folder, **sizes):
    tiny_model(**sizes).save(folder)
    return str(folder)


def promising_a_million_layers(folder):
    """A tiny model's folder whose config.json says n_layers = 10**6."""
    saved(folder)
    config = json.loads((Path(folder) / "config.json").read_text())
    config["n_layers"] = 10 ** 6
    (Path(folder) / "config.json").write_text(json.dumps(config))
    return str(folder)


def pushed(hub_env, folder, name):
    """Upload a model folder to the stand-in Hub as repo tester/<name>; its repo id."""
    from huggingface_hub import HfApi
    repo = f"{hub_env.server.user}/{name}"
    api = HfApi()
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(folder))
    return repo


def peak_of(call):
    """(what call() raised or returned, the peak of Python-tracked memory while it ran, bytes);
    NumPy's arrays are tracked (numpy reports them to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        try:
            result = call()
        except Exception as e:  # noqa: BLE001 - what was raised is the result here
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def counted(monkeypatch):
    """The folders LittleBaby.load reads, in this process (each call is one load)."""
    calls = []
    real = LittleBaby.load.__func__

    def counting(cls, name, *args, **kwargs):
        calls.append(str(name))
        return real(cls, name, *args, **kwargs)
    monkeypatch.setattr(LittleBaby, "load", classmethod(counting))
    return calls


# ---- what a config promises ------------------------------------------------------------------
def test_a_million_layers_in_a_folder_is_refused_small_and_once(tmp_path, counted):
    folder = promising_a_million_layers(tmp_path / "huge")
    shelf = Shelf([choice_for(folder)], device="cpu")
    refused, peak = peak_of(lambda: shelf.get("huge"))
    assert isinstance(refused, ModelUnavailable), refused
    assert peak < 50 * MiB, f"{peak / MiB:.0f} MiB allocated before the refusal"
    assert str(refused).startswith("Cannot open huge: ") and str(tmp_path) not in str(refused)
    again, _ = peak_of(lambda: shelf.get("huge"))
    assert str(again) == str(refused) and counted == [folder] and shelf.loads == 1


def test_a_million_layers_on_the_hub_is_refused_small_and_once(hub_env, tmp_path, counted):
    repo = pushed(hub_env, promising_a_million_layers(tmp_path / "huge"), "huge")
    shelf = Shelf([], device="cpu")
    refused, peak = peak_of(lambda: shelf.get(repo))
    assert isinstance(refused, ModelUnavailable), refused
    assert peak < 50 * MiB, f"{peak / MiB:.0f} MiB allocated before the refusal"
    asked = hub_env.server.count()
    again, _ = peak_of(lambda: shelf.get(repo))
    assert str(again) == str(refused)
    assert hub_env.server.count() == asked and len(counted) == 1  # no second try, no request
    assert str(hub_env.cache_dir) not in str(refused) and "/tmp" not in str(refused)


# ---- sizes before a download -------------------------------------------------------------------
def test_a_weights_file_over_the_limit_is_refused_before_download(hub_env, tmp_path, counted):
    repo = pushed(hub_env, saved(tmp_path / "fat", n_layers=2), "fat")
    weights = (tmp_path / "fat" / "model.safetensors").stat().st_size
    shelf = Shelf([], device="cpu", limits=ShelfLimits(max_model_bytes=weights - 1))
    with pytest.raises(ModelUnavailable) as caught:
        shelf.get(repo)
    assert str(caught.value) == (
        f"Cannot open {repo}: model.safetensors in the Hub repo {repo} has {weights:,} bytes, "
        f"over the limit of {weights - 1:,} for model.safetensors, so nothing was downloaded: "
        f"choose a smaller model.")
    assert hub_env.server.count("GET", r"/resolve/") == 0 and counted == []
    assert hub_env.server.count("HEAD", r"/resolve/[^/]+/model\.safetensors") == 1
    with pytest.raises(ModelUnavailable):
        shelf.get(repo)
    assert hub_env.server.count("HEAD", r"/resolve/[^/]+/model\.safetensors") == 1  # remembered
    roomy = Shelf([], device="cpu", limits=ShelfLimits(max_model_bytes=weights))
    assert roomy.get(repo).config.n_layers == 2  # at the limit: it loads


KiB = 2 ** 10
PNG = b"\x89PNG\r\n\x1a\n"


def with_extras(folder, pad=0, pad_file="report.json"):
    """A model folder given a loss curve (a PNG's signature and zeros), and `pad_file`
    made `pad` bytes longer (whitespace at its end: the same JSON, the same merges)."""
    folder = Path(folder)
    (folder / "loss_curve.png").write_bytes(PNG + bytes(2 * KiB))
    if pad:
        with open(folder / pad_file, "ab") as f:
            f.write(b"\n" * pad if pad_file.endswith(".txt") else b" " * pad)
    return folder


@pytest.mark.parametrize("oversized", ["report.json", "loss_curve.png", "merges.txt"])
def test_every_file_the_library_would_download_is_sized_first(
        hub_env, tmp_path, counted, oversized):
    """Not only the weights, config and tokenizer: the report and loss curve fetched
    beside them, and a GPT-2's vocab.json + merges.txt, are each checked against their
    limit before anything is downloaded."""
    if oversized == "merges.txt":
        from tests.test_gpt2_hub import SHAPE, TEXT, tiny_gpt2
        from little_baby.bpe import BPETokenizer
        bpe = BPETokenizer.train(TEXT, SHAPE["vocab_size"], special=["<|endoftext|>"])
        folder = with_extras(tiny_gpt2(tmp_path / "m", bpe, tokenizer_json=False),
                             pad=64 * KiB, pad_file="merges.txt")
    else:
        folder = with_extras(saved(tmp_path / "m"))
        if oversized == "report.json":
            with_extras(folder, pad=64 * KiB)
        else:
            (folder / oversized).write_bytes(PNG + bytes(64 * KiB))
    size = (folder / oversized).stat().st_size
    assert all(p.stat().st_size < 32 * KiB for p in folder.iterdir() if p.name != oversized
               and p.name != "model.safetensors")
    repo = pushed(hub_env, folder, "m")
    tight = ShelfLimits(max_json_bytes=32 * KiB, max_image_bytes=32 * KiB)
    with pytest.raises(ModelUnavailable) as caught:
        Shelf([], device="cpu", limits=tight).get(repo)
    assert str(caught.value) == (
        f"Cannot open {repo}: {oversized} in the Hub repo {repo} has {size:,} bytes, over the "
        f"limit of {32 * KiB:,} for {oversized}, so nothing was downloaded: choose a smaller "
        f"model.")
    assert hub_env.server.count("GET", r"/resolve/") == 0 and counted == []
    roomy = ShelfLimits(max_json_bytes=size, max_image_bytes=size)
    assert Shelf([], device="cpu", limits=roomy).get(repo).n_params > 0  # at the limit: it loads


def test_a_folder_over_the_limit_is_refused_before_reading(tmp_path, counted):
    folder = saved(tmp_path / "fat")
    shelf = Shelf([choice_for(folder)], device="cpu", limits=ShelfLimits(max_model_bytes=100))
    with pytest.raises(ModelUnavailable, match="^fat is too big for this Space: its weights file"):
        shelf.get("fat")
    assert counted == []


def test_a_hub_failure_says_what_the_hub_answered(hub_env, tmp_path):
    repo = pushed(hub_env, saved(tmp_path / "tiny"), "flaky")
    hub_env.server.fail_next("HEAD", r"model\.safetensors", status=500)
    shelf = Shelf([], device="cpu", limits=ShelfLimits(retry_seconds=0.5))
    start = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        shelf.get(repo)
    assert time.monotonic() - start < 5  # said at once, not after the client's retries
    assert "the Hub answered 500" in str(caught.value) and "Try again later" in str(caught.value)
    with pytest.raises(ModelUnavailable):  # within retry_seconds: refused without a request
        asked = hub_env.server.count()
        shelf.get(repo)
    assert hub_env.server.count() == asked
    time.sleep(0.6)
    assert shelf.get(repo).config.n_layers == 1  # a Hub failure is tried again soon


def test_an_unknown_repo_and_a_nonsense_name_say_what_is_wrong(hub_env):
    shelf = Shelf([], device="cpu")
    with pytest.raises(ModelUnavailable, match="there is no Hub repo 'tester/nothing'"):
        shelf.get("tester/nothing")
    with pytest.raises(ModelUnavailable) as caught:
        shelf.get("what is this?")
    assert str(caught.value).startswith("Cannot open what is this?: ")
    assert "Not available" not in str(caught.value)


# ---- memory ----------------------------------------------------------------------------------
def test_the_shelf_keeps_at_most_its_bytes_and_gives_memory_back(tmp_path):
    a, b = saved(tmp_path / "a"), saved(tmp_path / "b")
    big = saved(tmp_path / "big", n_layers=4, n_emb=32, head_size=32)
    one = sum(x.nbytes for x in LittleBaby.load(a).params.values())
    shelf = Shelf([choice_for(p) for p in (a, b, big)], device="cpu",
                  limits=ShelfLimits(max_loaded_bytes=one + one // 2))
    first = weakref.ref(shelf.get("a"))
    assert shelf.loaded_bytes == one
    shelf.get("b")  # two do not fit: a, the least recently used, goes
    assert shelf.loaded_bytes == one and first() is None  # and its arrays are gone
    with pytest.raises(ModelUnavailable, match=r"^big holds .* MiB of parameters, more than "
                                               r"this Space keeps loaded"):
        shelf.get("big")
    assert shelf.get("b") is shelf.get("b")  # kept


def test_a_model_whose_forward_pass_is_too_big_is_refused(tmp_path):
    folder = saved(tmp_path / "many", n_layers=64, n_heads=1024, head_size=1024, n_ctx=64)
    shelf = Shelf([choice_for(folder)], device="cpu")  # 4.5 M parameters, 18 MiB: small
    refused, peak = peak_of(lambda: shelf.get("many"))  # but a pass holds 64 x 1024 x 64²
    assert str(refused) == ("many would need about 2,048.0 MiB for one pass over its context "
                            "(64 layers × 1024 heads × 64² attention weights); this Space "
                            "allows 512.0 MiB.")
    assert peak < 100 * MiB  # the load itself, never a pass
    roomy = ShelfLimits(max_forward_bytes=2048 * MiB)
    assert Shelf([choice_for(folder)], device="cpu", limits=roomy).get("many").n_params > 4e6


# ---- locks and deadlines -----------------------------------------------------------------------
@pytest.fixture
def slow_hub(hub_env, tmp_path, monkeypatch):
    """(hub_env, repo id): a repo whose files the Hub serves 2 s late."""
    repo = pushed(hub_env, saved(tmp_path / "slow"), "slow")
    server, real = hub_env.server, hub_env.server.handle

    def late(call):
        if call.method == "GET" and "/slow/resolve/" in call.path:
            time.sleep(2)
        return real(call)
    monkeypatch.setattr(server, "handle", late)
    return hub_env, repo


def test_a_slow_download_does_not_delay_a_loaded_model(slow_hub, tmp_path, counted):
    hub_env, repo = slow_hub
    folder = saved(tmp_path / "here")
    shelf = Shelf([choice_for(folder)], device="cpu")
    h = Handlers(shelf)
    shelf.get("here")
    got = {}
    visitors = [threading.Thread(target=lambda i=i: got.setdefault(i, shelf.get(repo)))
                for i in range(2)]
    for v in visitors:
        v.start()
    time.sleep(0.3)  # both wait for the download now
    start = time.monotonic()
    *_, (text, status) = h.generate("here", "The baby", 20, 0.8, 40, 1.0, 1, True)
    assert time.monotonic() - start < 1.0 and len(text) == 20
    assert any(v.is_alive() for v in visitors)  # the download was still going
    for v in visitors:
        v.join(30)
    assert got[0] is got[1] and len(counted) == 2  # "here", then two visitors, one load


@pytest.mark.filterwarnings("ignore:.*deprecated:Warning:gradio.queueing")  # pandas 3 and gradio
def test_over_http_a_slow_download_does_not_delay_a_loaded_model(slow_hub, tmp_path):
    from gradio_client import Client
    from baby_space.ui import build_demo, launch
    hub_env, repo = slow_hub
    shelf = Shelf([choice_for(saved(tmp_path / "here"))], device="cpu")
    demo = build_demo(shelf)
    port = free_port()
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=port,
                       prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, analytics_enabled=False)
        args = ("The baby", 20, 0.8, 40, 1.0, 1, True)
        client.predict("here", *args, api_name="/generate")  # loaded, and warmed up
        start = time.monotonic()
        client.predict("here", *args, api_name="/generate")
        alone = time.monotonic() - start
        slow = [Client(url, verbose=False, analytics_enabled=False).submit(
            repo, *args, api_name="/generate") for _ in range(3)]  # more than the 2 places
        time.sleep(0.5)
        start = time.monotonic()
        text, status = client.predict("here", *args, api_name="/generate")
        assert time.monotonic() - start < alone + 1.0 and len(text) == 20
        assert not any(job.done() for job in slow)  # they still wait for the download
        for job in slow:
            assert len(job.result(timeout=60)[0]) == 20  # and then get their text
        assert hub_env.server.count("GET", r"/slow/resolve/[^/]+/model\.safetensors") == 1
    finally:
        demo.close()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_load_has_a_deadline_and_goes_on_meanwhile(slow_hub, counted):
    hub_env, repo = slow_hub
    shelf = Shelf([], device="cpu", limits=ShelfLimits(load_seconds=0.5))
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match=f"^{repo} is still downloading or loading after "
                                               f"0.5 s; try again in a minute"):
        shelf.get(repo)
    assert time.monotonic() - start < 1.5
    summary, card, status = Handlers(shelf).summary_and_status(repo)  # beside the picker too
    assert summary.startswith(f"**Still loading.** {repo} is still downloading")
    assert status.startswith(f"{repo} is still downloading")  # not a failure
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            baby = shelf.get(repo)
            break
        except ModelUnavailable:
            time.sleep(0.3)
    assert baby.config.n_layers == 1 and len(counted) == 1  # the one load finished meanwhile


def fetch_children():
    """The pids of this process's children that are Hub downloads (baby_space.fetch)."""
    pids = [int(p) for task in Path("/proc/self/task").iterdir()
            for p in (task / "children").read_text().split()]
    return [p for p in pids if b"baby_space.fetch" in Path(f"/proc/{p}/cmdline").read_bytes()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")
def test_a_download_past_its_deadline_is_ended_and_leaves_nothing(slow_hub, counted):
    hub_env, repo = slow_hub
    shelf = Shelf([], device="cpu", limits=ShelfLimits(download_seconds=2.5))
    start = time.monotonic()
    said = (f"Cannot open {repo}: it took more than 2.5 s to download, so the download was "
            f"stopped. Try again later.")
    with pytest.raises(ModelUnavailable, match=f"^{re.escape(said)}$"):
        shelf.get(repo)
    assert time.monotonic() - start < 2.5 + GRACE
    assert fetch_children() == [] and not shelf._loading  # no process, no load goes on
    assert not list(hub_env.cache_dir.glob("models--*/blobs/*.incomplete"))  # no partial file
    asked = hub_env.server.count()
    with pytest.raises(ModelUnavailable, match=f"^{re.escape(said)}$"):  # for retry_seconds
        shelf.get(repo)
    assert hub_env.server.count() == asked and counted == []


def test_partial_downloads_are_removed_unless_a_download_writes_them(hub_env):
    from filelock import FileLock
    blobs = hub_env.cache_dir / "models--tester--x" / "blobs"
    locks = hub_env.cache_dir / ".locks" / "models--tester--x"
    blobs.mkdir(parents=True)
    locks.mkdir(parents=True)
    left, live, whole = (blobs / "aaaa.1234abcd.incomplete", blobs / "bbbb.5678abcd.incomplete",
                         blobs / "cccc")
    for path in (left, live, whole):
        path.write_bytes(b"bytes")
    with FileLock(locks / "bbbb.lock"):  # as huggingface_hub holds it while it downloads
        remove_partial_downloads("tester/x")
    assert not left.exists() and live.exists() and whole.exists()


def test_the_download_process_gets_no_empty_path_entry():
    """An empty PYTHONPATH entry is the child's working directory on its sys.path."""
    sep = os.pathsep
    assert child_path("") == sep.join(PLACES)
    assert child_path(f"{sep}/opt/x{sep}{sep}") == sep.join(PLACES + ["/opt/x"])


# ---- messages --------------------------------------------------------------------------------
# the library's advice to whoever runs it: a command, a Python argument, a variable to set
NOT_FOR_VISITORS = ("little-baby", "`", "from_pretrained", "repo=", "token=", "$", "--",
                    "hf download", "pip install", "HF_TOKEN", "LITTLE_BABY")
CHOOSE = "Choose a model from the list, or type a GUID or a Hub repo id."


def test_a_visitor_gets_advice_that_makes_sense_in_the_space(hub_env, monkeypatch):
    """The library's messages pass through, its advice to whoever runs it does not: the
    Space says what a visitor can do."""
    from huggingface_hub import HfApi

    def said(shelf, name, advice):
        with pytest.raises(ModelUnavailable) as caught:
            shelf.get(name)
        message = str(caught.value)
        assert message.startswith(f"Cannot open {name}: ") and message.endswith(advice), message
        assert not [a for a in NOT_FOR_VISITORS if a in message], message

    for repo in ("babies", "empty"):
        HfApi().create_repo(f"tester/{repo}")
    monkeypatch.setenv("LITTLE_BABY_REPO", "tester/babies")
    guid = "00000000-0000-4000-8000-000000000000"
    for name in ("no such model!", "abcd1234", guid, "nobody/nothing", "tester/empty"):
        said(Shelf([], device="cpu"), name, CHOOSE)
    hub_env.setenv("HF_TOKEN", "hf_not_a_token")  # the server's own token, refused
    said(Shelf([], device="cpu"), "tester/empty", "does not accept. Try again later.")
    hub_env.setenv("HF_HUB_OFFLINE", "1")
    for name in (guid, "someone/thing"):
        said(Shelf([], device="cpu"), name, "This Space cannot download it now: choose a "
                                            "model from the list.")


def test_no_message_shows_a_server_path(tmp_path):
    assert public("no model at /srv/app/cache/1234/ (see ~/x)") == \
        "no model at (server folder) (see (server folder))"
    kept = "the Hub repo 'owner/name' at https://huggingface.co/owner/name: 3 tokens/s"
    assert public(kept) == kept
    folder = saved(tmp_path / "gone")
    shelf = Shelf([choice_for(folder)], device="cpu")
    for name in ("model.safetensors", "config.json"):
        (tmp_path / "gone" / name).unlink()
    with pytest.raises(ModelUnavailable) as caught:
        shelf.get("gone")
    assert str(tmp_path) not in str(caught.value) and "/tmp" not in str(caught.value)


def test_folders_deployed_beside_the_app_are_offered(tmp_path):
    saved(tmp_path / "models" / "mine")
    choices = choices_from_env({}, tmp_path / "models")
    assert choices[-1].label == "mine (folder)" and choices[-1].value == "mine"
    assert len(choices) == 6  # the five ages, then the folder


def test_two_folders_of_one_name_are_refused_at_start(tmp_path):
    one, two = saved(tmp_path / "a" / "baby"), saved(tmp_path / "b" / "baby")
    with pytest.raises(ValueError, match="more than one model called baby: give each folder"):
        Shelf([choice_for(one), choice_for(two)], device="cpu")


def test_the_environment_sets_the_limits():
    limits = ShelfLimits.from_env({"LITTLE_BABY_SPACE_MAX_MODEL_BYTES": "64M",
                                   "LITTLE_BABY_SPACE_LOAD_SECONDS": "5"})
    assert limits.max_model_bytes == 64 * MiB and limits.load_seconds == 5.0
    with pytest.raises(ValueError, match=r"LITTLE_BABY_SPACE_MAX_LOADED_BYTES must be a size"):
        ShelfLimits.from_env({"LITTLE_BABY_SPACE_MAX_LOADED_BYTES": "lots"})
    with pytest.raises(ValueError, match=r"LITTLE_BABY_SPACE_REFUSAL_SECONDS must be a number"):
        ShelfLimits.from_env({"LITTLE_BABY_SPACE_REFUSAL_SECONDS": "nan"})


# ---- the pictures' size, the status after Stop --------------------------------------------------
def test_the_attention_kept_is_bounded(tmp_path):
    folder = saved(tmp_path / "wide", n_layers=8, n_heads=64, head_size=64)
    baby = LittleBaby.load(folder)
    h = Handlers(Shelf([choice_for(folder)], device="cpu"),
                 Limits(max_attention=8 * 64 * 8 * 8, max_overview_tiles=128))
    prompt = "The baby sat by the fire"  # 24 characters, 16 in the context
    (state, heat, overview, bars, _, _, note, text, status, *_), peak = peak_of(
        lambda: list(h.inspect("wide", prompt, 1, 1))[-1])
    assert [a.shape for a in state["attention"]] == [(64, 8, 8)] * 8  # the last 8 of 16
    assert "the last 8 of the prompt's 24 symbols (the pictures' limit" in note
    assert "The overview shows layers 1 to 2 (at most 128 tiles)" in note
    assert overview.size[1] < 200  # two rows of tiles
    logits = baby.logits(baby.tokenizer.encode(prompt)[None, -16:])  # the bars: whole context
    np.testing.assert_allclose(state["logits"], logits[0, -1], rtol=1e-5)
    none = Handlers(h.shelf, Limits(max_attention=100))  # not one 2 x 2 map per head fits
    state, _, _, _, _, _, note, *_ = list(none.inspect("wide", prompt, 1, 1))[-1]
    assert state["attention"] == [] and "too many to show here (512 maps" in note


def test_stop_stops_the_generation_which_says_so_itself(tmp_path):
    from types import SimpleNamespace
    h = Handlers(Shelf([choice_for(saved(tmp_path / "tiny"))], device="cpu"))
    visitor, other = SimpleNamespace(session_hash="a"), SimpleNamespace(session_hash="b")
    mine = h.generate("tiny", "The baby", 50, 0.8, 40, 1.0, 1, True, visitor)
    theirs = h.generate("tiny", "The baby", 50, 0.8, 40, 1.0, 1, True, other)
    for _ in range(4):  # the first is "Generating…", then 3 tokens
        text, status = next(mine)
        next(theirs)
    assert status == "Generating… 3 tokens"
    assert h.stop(status, visitor) == gr.update()  # the generation will say it, not Stop
    assert list(mine) == [(text, "**Stopped** after 3 tokens, when you pressed Stop.")]
    text, status = final(theirs)  # another visitor's generation goes on
    assert len(text) == 50 and status.startswith("**50 tokens in ")
    assert h.stop("Opening the model and reading the prompt…", visitor) == \
        "**Stopped** after 0 tokens, when you pressed Stop."  # before the text: said here
    later = final(h.generate("tiny", "The baby", 5, 0.8, 40, 1.0, 1, True, visitor))
    assert len(later[0]) == 5  # a Stop pressed before a generation does not stop it


def final(updates):
    *_, last = updates
    return last


def test_a_visitors_guid_never_opens_the_servers_own_store(hub_env, tmp_path, monkeypatch):
    """The server's store may hold its owner's private models: a GUID a visitor types is
    fetched from the Hub repo, as a choice would be, never read from that store."""
    from little_baby.io.store.places import store_dir
    private = tiny_model()
    private.guid = "5ca1ab1e-0000-4000-8000-000000000001"
    private.save(store_dir() / private.guid)  # the server's store ($LITTLE_BABY_STORE)
    shelf = Shelf([], device="cpu")
    with pytest.raises(ModelUnavailable) as caught:
        shelf.get(private.guid)
    assert "Cannot open" in str(caught.value) and str(store_dir()) not in str(caught.value)
    assert LittleBaby.load(private.guid).config.n_layers == 1  # it is there, for the owner
    # nor does a start of it, which the library would complete from that store
    for start in ("5ca1ab1e", "5CA1AB1E-0000", "5"):
        with pytest.raises(ModelUnavailable, match="only the start of a GUID: give the whole "
                                                   "GUID") as caught:
            shelf.get(start)
        assert private.guid not in str(caught.value)
    assert LittleBaby.load("5ca1ab1e").guid == private.guid  # what the library itself does
