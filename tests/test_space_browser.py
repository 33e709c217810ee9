"""The Space in a real browser: `python spaces/app.py` serving a tiny model, and Debian's
Chromium (apt package `chromium`) headless, driven by Playwright with executable_path set
to it (Playwright's own browser download is not available on these machines)."""
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


@pytest.fixture
def app(tmp_path):
    """(URL, model): spaces/app.py run as a user runs it, offering only a tiny model."""
    baby = LittleBaby(BabyConfig(n_layers=1, n_emb=16, head_size=16, n_heads=2, n_ctx=16),
                      CharTokenizer.from_text(english()))
    baby.save(tmp_path / "tiny")
    port = free_port()
    env = dict(os.environ, LITTLE_BABY_SPACE_MODELS=str(tmp_path / "tiny"), HF_HUB_OFFLINE="1",
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
