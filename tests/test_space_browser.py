"""The Space in a real browser: `python spaces/app.py` serving a tiny model, and Debian's
Chromium (apt package `chromium`) headless, driven by Playwright with executable_path set
to it (Playwright's own browser download is not available on these machines)."""
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from tests.little_texts import english

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)
PROMPT = "The baby sat"  # 12 characters: one 12 x 12 tile per head
if os.environ.get("CI"):  # the dev extra installs these: under CI their absence is a failure
    import gradio  # noqa: F401
    from playwright.sync_api import sync_playwright
else:
    pytest.importorskip("gradio", reason='the Space needs it: pip install -e ".[dev]"')
    sync_playwright = pytest.importorskip(
        "playwright.sync_api", reason='pip install -e ".[dev]" installs playwright').sync_playwright
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run tries)",
                allow_module_level=True)
sys.path.insert(0, str(REPO / "spaces"))
from baby_space.pictures import overview_geometry  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(URL, model): spaces/app.py run as a user runs it, offering a tiny model (first),
    'slow', one big enough that 1,000 tokens without the KV cache take some seconds, and
    'many', of 3 layers of 24 heads."""
    tmp_path = tmp_path_factory.mktemp("browser")
    baby = LittleBaby(BabyConfig(n_layers=1, n_emb=16, head_size=16, n_heads=2, n_ctx=16),
                      CharTokenizer.from_text(english()))
    baby.save(tmp_path / "tiny")
    LittleBaby(BabyConfig(n_layers=4, n_emb=128, head_size=128, n_heads=4, n_ctx=256),
               CharTokenizer.from_text(english())).save(tmp_path / "slow")
    LittleBaby(BabyConfig(n_layers=3, n_emb=48, head_size=48, n_heads=24, n_ctx=16),
               CharTokenizer.from_text(english())).save(tmp_path / "many")
    port = free_port()
    models = os.pathsep.join(str(tmp_path / name) for name in ("tiny", "slow", "many"))
    env = dict(os.environ, LITTLE_BABY_SPACE_MODELS=models, HF_HUB_OFFLINE="1",
               GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               LITTLE_BABY_SPACE_DEVICE="cpu")
    log = open(tmp_path / "app.log", "w")
    server = subprocess.Popen([sys.executable, str(REPO / "spaces" / "app.py")], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    log_text = (tmp_path / "app.log").read_text()
                    pytest.fail(f"spaces/app.py did not start:\n{log_text}")
                time.sleep(0.2)
        yield url, baby
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def test_a_visitor_generates_and_looks_at_the_attention(app, tmp_path):
    url, baby = app
    outside = []  # requests that would leave the machine: there must be none
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])  # root, in a container
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: r.url.startswith((url, "data:", "blob:"))
                    or outside.append(r.url))
            page.goto(url)
            page.locator("#summary").get_by_text("parameters").wait_for(timeout=20_000)
            page.locator("#prompt textarea").fill(PROMPT)
            page.locator("#generate").click()
            page.wait_for_function("document.querySelector('#status').innerText"
                                   ".includes('tokens/s')", timeout=30_000)
            # the page's defaults: 200 tokens, temperature 0.8, top-k 40, top-p off, seed 1
            assert page.locator("#output textarea").input_value() == baby.generate(
                PROMPT, max_new_tokens=200, temperature=0.8, top_k=40, seed=1)

            page.get_by_role("tab", name="Attention").click()
            heatmap = page.locator("#heatmap .js-plotly-plot")
            heatmap.locator(".main-svg").first.wait_for(timeout=20_000)
            assert "Layer 1, head 1" in heatmap.locator(".gtitle").text_content()
            heatmap.scroll_into_view_if_needed()
            box = heatmap.locator(".nsewdrag").first.bounding_box()  # the cells' area
            page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.8)
            hover = heatmap.locator(".hoverlayer .hovertext")
            hover.first.wait_for(timeout=5_000)
            assert "→" in hover.first.text_content()  # '…' (#i) → '…' (#j): weight

            image = page.locator("#overview img")  # click the tile of layer 1, head 2
            image.wait_for(timeout=10_000)
            g = overview_geometry(1, 2, len(PROMPT))
            shown = image.bounding_box()
            x, y = g.corner(0, 1)
            zoom = shown["width"] / g.size[0]
            image.click(position={"x": (x + g.tile / 2) * zoom, "y": (y + g.tile / 2) * zoom})
            page.wait_for_function("document.querySelector('#heatmap .gtitle').textContent"
                                   ".includes('head 2')", timeout=10_000)

            shot = tmp_path / "space.png"
            page.screenshot(path=str(shot), full_page=True)
            heat_shot = heatmap.screenshot()
        finally:
            browser.close()
    assert outside == []
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[0] > 900 and pixels.std() > 10  # a page, not a blank
    cells = np.asarray(Image.open(io.BytesIO(heat_shot)).convert("RGB"))
    assert len(np.unique(cells.reshape(-1, 3), axis=0)) > 50  # a coloured heatmap
    print(f"screenshot: {shot}")


# ---- a phone and a desktop -----------------------------------------------------------------------
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots a person can look at (CI keeps them)


def artifact(name):
    """A path under tests/artifacts/ (made, and ignored by git through its own .gitignore)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    return str(ARTIFACTS / name)


def overlap(a, b):
    """Whether boxes a and b (playwright's bounding boxes) share any area."""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox"])  # root, in a container
        try:
            yield chromium
        finally:
            chromium.close()


def status_of(page):
    return page.locator("#status").inner_text()


@contextlib.contextmanager
def opened(browser, url, width, height):
    """A page of the Space at this size, its model's summary shown; closed afterwards."""
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(url)
        page.locator("#summary").get_by_text("parameters").wait_for(timeout=20_000)
        yield page
    finally:
        page.close()


@pytest.mark.parametrize("width, height", [(400, 800), (1280, 800)])
def test_the_page_works_on_a_phone_and_a_desktop(app, browser, width, height):
    url, baby = app
    with opened(browser, url, width, height) as page:
        for part in ("#prompt textarea", "#generate", "#model input"):  # the first screen
            box = page.locator(part).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, part
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (part, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing cut
        assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)"
                             "(document.querySelector('#summary'))")

        prompt = (english() * 2)[:5000]  # the page takes it whole, the model reads its end
        page.locator("#prompt textarea").fill(prompt)
        page.locator("#generate").click()
        page.wait_for_function("document.querySelector('#status').innerText"
                               ".includes('tokens/s')", timeout=60_000)
        assert ("the prompt has 5,000 characters and this model reads only its last 16 (its "
                "context), so the first 4,984 were left out") in status_of(page)
        assert page.locator("#output textarea").input_value() == baby.generate(
            prompt[-16:], max_new_tokens=200, temperature=0.8, top_k=40, seed=1)

        bars = page.locator("#bars .js-plotly-plot")
        bars.locator(".main-svg").first.wait_for(timeout=20_000)
        bars.scroll_into_view_if_needed()
        plot = bars.locator(".main-svg").first.bounding_box()
        parts = {name: bars.locator(selector).first.bounding_box() for name, selector in
                 [("title", ".gtitle"), ("legend", ".legend"), ("toolbar", ".modebar")]}
        for name, box in parts.items():
            assert box and box["width"] > 0 and box["height"] > 0, name
            assert plot["x"] <= box["x"] and box["x"] + box["width"] <= plot["x"] + plot["width"]
        names = list(parts)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert not overlap(parts[a], parts[b]), (a, b, parts[a], parts[b])
        ticks = [t.bounding_box() for t in bars.locator(".xtick text").all()]
        assert len(ticks) == 20 and not any(overlap(a, b) for a, b in zip(ticks, ticks[1:]))
        page.screenshot(path=artifact(f"space-{width}x{height}.png"), full_page=True)


@pytest.mark.parametrize("width, height", [(400, 800), (1280, 800)])
def test_many_heads_get_a_slider_not_a_list_of_buttons(app, browser, width, height):
    url, _ = app
    with opened(browser, url, width, height) as page:
        model = page.locator("#model input")
        model.fill("many")
        model.press("Enter")
        page.locator("#summary").get_by_text("3 × 24").wait_for(timeout=20_000)
        page.locator("#prompt textarea").fill(PROMPT)
        page.locator("#generate").click()
        page.wait_for_function("document.querySelector('#status').innerText"
                               ".includes('tokens/s')", timeout=60_000)
        page.get_by_role("tab", name="Attention").click()
        title = page.locator("#heatmap .gtitle")
        title.wait_for(timeout=20_000)
        # 3 layers: buttons; 24 heads: a slider, one short row that fits the screen
        assert page.locator("#layer").is_visible() and not page.locator("#layer-slider").is_visible()
        assert page.locator("#head-slider").is_visible() and not page.locator("#head").is_visible()
        box = page.locator("#head-slider").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] < 150, box
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        number = page.locator("#head-slider input[type=number]")
        number.fill("20")
        number.press("Enter")
        page.wait_for_function("document.querySelector('#heatmap .gtitle').textContent"
                               ".startsWith('Layer 1, head 20')", timeout=10_000)
        page.locator("#layer").get_by_text("2", exact=True).click()  # the head stays
        page.wait_for_function("document.querySelector('#heatmap .gtitle').textContent"
                               ".startsWith('Layer 2, head 20')", timeout=10_000)
        image = page.locator("#overview img")  # a tile sets the buttons and the slider
        g, shown = overview_geometry(3, 24, len(PROMPT)), image.bounding_box()
        x, y = g.corner(2, 4)
        zoom = shown["width"] / g.size[0]
        image.click(position={"x": (x + g.tile / 2) * zoom, "y": (y + g.tile / 2) * zoom})
        page.wait_for_function("document.querySelector('#heatmap .gtitle').textContent"
                               ".startsWith('Layer 3, head 5')", timeout=10_000)
        assert number.input_value() == "5"
        assert page.locator("#layer input:checked").input_value() == "3"
        page.locator("#attention-tab").screenshot(path=artifact(f"space-heads-{width}x{height}.png"))


def test_the_status_tells_the_truth_after_stop_and_after_a_failure(app, browser):
    url, baby = app
    with opened(browser, url, 400, 800) as page:
        model = page.locator("#model input")
        model.fill("age-48-months")  # a shipped age: its whole GUID shows, wrapped, on a phone
        model.press("Enter")
        guid = page.locator("#summary").get_by_text("12b8b053-6c14-42aa-a957-89b809e6f785",
                                                    exact=True).first
        guid.wait_for(timeout=30_000)
        box, summary = guid.bounding_box(), page.locator("#summary").bounding_box()
        assert box["x"] >= summary["x"] and box["x"] + box["width"] <= summary["x"] + \
            summary["width"] <= 400
        assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)"
                             "(document.querySelector('#summary'))")
        model.fill("slow")
        model.press("Enter")
        page.locator("#summary").get_by_text("4 × 4").wait_for(timeout=20_000)
        page.locator("#prompt textarea").fill("The baby sat")
        page.locator("#max-new input[type=number]").fill("1000")
        page.locator("#max-new input[type=number]").press("Enter")
        page.locator("#kv-cache input").uncheck()  # each token reads the whole window again
        page.locator("#generate").click()
        page.wait_for_function("/Generating… ([3-9]|[1-9][0-9]+) tokens/.test("
                               "document.querySelector('#status').innerText)", timeout=60_000)
        page.locator("#stop").click()
        page.wait_for_function("document.querySelector('#status').innerText"
                               ".startsWith('Stopped after')", timeout=10_000)
        said = status_of(page)
        n = int(said.split()[2])
        time.sleep(2)  # nothing streamed after the stop overwrites it
        assert status_of(page) == said and said.endswith("tokens, when you pressed Stop.")
        assert 3 <= n < 1000 and len(page.locator("#output textarea").input_value()) == n
        page.screenshot(path=artifact("space-400x800-stopped.png"), full_page=True)

        model.fill("no such model!")  # a model that cannot be opened: said, and the text goes
        model.press("Enter")
        page.wait_for_function("document.querySelector('#status').innerText"
                               ".startsWith('Failed: Cannot open no such model!')",
                               timeout=20_000)
        assert page.locator("#output textarea").input_value() == ""
        time.sleep(3)
        assert status_of(page).startswith("Failed: Cannot open no such model!")  # it stays
        page.locator("#generate").click()  # Generate with it: the same reason, in the status
        page.wait_for_function("document.querySelector('#status').innerText"
                               ".startsWith('Failed: Cannot open no such model!')",
                               timeout=20_000)
        page.screenshot(path=artifact("space-400x800-failed.png"), full_page=True)
