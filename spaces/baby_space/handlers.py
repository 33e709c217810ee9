"""What the Space does when a visitor acts: plain methods of `Handlers`, one per event,
that take the components' values and return (or, for `generate`, yield) theirs. They
can be called without a browser or a server (tests do).

The model runs in two of them only: `generate` (the text) and `inspect` (one forward
pass over the prompt, keeping each layer's attention and the last position's logits in
the visitor's session state). `attention_view`, `probability_view` and `pick_tile`
redraw from that state, so moving a slider never runs the model again.
"""
import time
from dataclasses import dataclass

import gradio as gr
import numpy as np

from little_baby.engine.sampling import check_settings
from little_baby.errors import BabyError, GenerationError, TokenizerError

from .models import ModelUnavailable, model_card, model_summary
from .pictures import (attention_heatmap, attention_overview, message_figure, overview_geometry,
                       probability_bars, tile_at)


@dataclass(frozen=True)
class Limits:
    """What keeps a public Space alive."""

    max_new_tokens: int = 1000
    max_prompt: int = 1000      # characters
    time_limit: float = 60.0    # seconds of generation per request
    concurrency: int = 2        # requests of one kind running at once (a Space's CPU has 2 cores)
    queue_size: int = 16        # requests waiting; more are turned away at once


def error(message):
    """The gr.Error a visitor sees: the message only, no traceback in the server's log."""
    return gr.Error(message, print_exception=False)


def to_numpy(a):
    """A NumPy copy of a NumPy or CuPy array."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


class Handlers:
    """The Space's event handlers over a Shelf of models, within Limits."""

    def __init__(self, shelf, limits=Limits()):
        self.shelf, self.limits = shelf, limits

    # ---- the model ------------------------------------------------------------------------
    def model(self, name):
        """The model `name` names, or a gr.Error that says why it cannot be had."""
        try:
            return self.shelf.get(name)
        except ModelUnavailable as e:
            raise error(str(e)) from e

    def summary(self, model):
        """(summary, model card): Markdown for beside the picker; a model that cannot be
        opened gets its reason instead of a summary, never an exception."""
        try:
            baby = self.shelf.get(model)
        except ModelUnavailable as e:
            return f"**Not available here yet.** {e}", ""
        return model_summary(model, baby), model_card(baby) or "This model's folder has no card."

    # ---- the text --------------------------------------------------------------------------
    def generate(self, model, prompt, max_new_tokens=200, temperature=0.8, top_k=40, top_p=1.0,
                 seed=-1, use_cache=True):
        """Yield (the text generated so far, a status line) as each token is made; the last
        status gives the tokens, the time and tokens/s. The prompt is not repeated."""
        baby = self.model(model)
        prompt = self._check_prompt(baby, prompt)
        settings = self._sampling(max_new_tokens, temperature, top_k, top_p, seed)
        cache = "on" if use_cache else "off"
        text, n, start = "", 0, time.perf_counter()
        yield text, "Generating…"
        stopped = False
        try:
            for piece in baby.stream(prompt, use_cache=bool(use_cache), **settings):
                text, n = text + piece, n + 1
                if time.perf_counter() - start > self.limits.time_limit:
                    stopped = True
                    break
                yield text, f"Generating… {n} tokens"
        except BabyError as e:
            raise error(str(e)) from e
        seconds = max(time.perf_counter() - start, 1e-9)
        why = f" (stopped at the {self.limits.time_limit:g} s limit)" if stopped else ""
        yield text, (f"**{n} tokens in {seconds:.2f} s · {n / seconds:.1f} tokens/s**{why} · "
                     f"{baby.backend.device.upper()}, KV cache {cache}")

    def _check_prompt(self, baby, prompt):
        """The prompt, if it fits the limits and the model knows all its symbols; else a
        gr.Error that names what is wrong."""
        prompt = prompt or ""
        if len(prompt) > self.limits.max_prompt:
            raise error(f"The prompt has {len(prompt):,} characters; this Space takes at most "
                        f"{self.limits.max_prompt:,}.")
        try:
            baby.tokenizer.encode(prompt)
        except TokenizerError:
            known = set(baby.tokenizer.symbols)
            missing = sorted({s for s in baby.tokenizer.split(prompt) if s not in known})
            kind = "characters" if baby.config.c_tokenizer == "char" else "words or symbols"
            listed = ", ".join(repr(m) for m in missing[:20])
            listed += " …" if len(missing) > 20 else ""
            raise error(f"This model does not know {len(missing)} of the prompt's {kind}: "
                        f"{listed}. Remove them, or choose a model trained on text that has "
                        f"them.") from None
        return prompt

    def _sampling(self, max_new_tokens, temperature, top_k, top_p, seed):
        """baby.stream's settings from the controls' values (top-k 0 and top-p 1 are off, a
        negative seed is a new one each time), checked by the engine's check_settings; a
        gr.Error names the one out of range."""
        n = int(max_new_tokens)
        if not 1 <= n <= self.limits.max_new_tokens:
            raise error(f"max_new_tokens must be 1 to {self.limits.max_new_tokens}, not {n}.")
        top_k = int(top_k) if top_k else None  # a slider gives 40.0
        top_p = None if top_p is None or top_p == 1 else top_p
        seed = None if seed is None or int(seed) < 0 else int(seed)
        try:
            settings = check_settings(n, temperature, top_k, top_p, seed,
                                      off={"top_k": "0", "top_p": "1", "seed": "-1"})
        except GenerationError as e:
            raise error(str(e)) from None
        return settings._asdict()

    # ---- looking inside ----------------------------------------------------------------------
    def inspect(self, model, prompt, layer=1, head=1, temperature=0.8, top_k=40, top_p=1.0):
        """One forward pass over the prompt (its last n_ctx symbols, what the model sees
        when it starts to generate). Returns (state, heatmap, overview image, probability
        bars, layer choices, head choices, note)."""
        baby = self.model(model)
        prompt = self._check_prompt(baby, prompt)
        if not prompt:
            blank = message_figure("Type a prompt to see inside the model.")
            return (None, blank, None, blank, gr.update(), gr.update(),
                    "Type a prompt, then press Generate.")
        ids = np.asarray(baby.tokenizer.encode(prompt))[-baby.config.n_ctx:]
        try:
            logits, attention = baby.logits(ids[None], return_attention=True)
        except BabyError as e:
            raise error(str(e)) from e
        tokens = [baby.tokenizer.decode([i]) for i in ids]
        state = {"tokens": tokens, "symbols": list(baby.tokenizer.symbols),
                 "logits": to_numpy(logits)[0, -1].astype(np.float64),
                 "attention": [to_numpy(a)[0].astype(np.float32) for a in attention or []]}
        note = self._note(baby, prompt, ids)
        n_layers, n_heads = (len(state["attention"]), state["attention"][0].shape[0]) \
            if state["attention"] else (1, 1)
        layer, head = min(max(int(layer or 1), 1), n_layers), min(max(int(head or 1), 1), n_heads)
        overview = self.overview(state)
        return (state, self.attention_view(state, layer, head), overview,
                self.probability_view(state, temperature, top_k, top_p),
                gr.update(choices=list(range(1, n_layers + 1)), value=layer),
                gr.update(choices=list(range(1, n_heads + 1)), value=head),
                note)

    @staticmethod
    def forget():
        """A new model picked: (state, heatmap, overview, bars, note) emptied, so that no
        picture of the last model's prompt stays on the page."""
        return (None, message_figure("Press Generate to see the prompt's attention."), None,
                message_figure("Press Generate to see what the model expects next."),
                "Press Generate to see the prompt's attention.")

    @staticmethod
    def _note(baby, prompt, ids):
        n_symbols = len(baby.tokenizer.encode(prompt))
        seen = (f"all {n_symbols} symbols of the prompt" if n_symbols == len(ids) else
                f"the last {len(ids)} of the prompt's {n_symbols} symbols (its context window)")
        L, H = baby.config.n_layers, baby.config.n_heads
        return (f"{baby.config.c_attention} attention over {seen}; {L} layer{'s' * (L != 1)} "
                f"× {H} head{'s' * (H != 1)}.")

    def attention_view(self, state, layer, head):
        """The heatmap of head `head` of layer `layer` (both counted from 1)."""
        if not state:
            return message_figure("Press Generate to see the prompt's attention.")
        if not state["attention"]:
            return message_figure("This model's attention keeps no weights to show (gla and "
                                  "aft mix the past without comparing queries with keys).")
        att = state["attention"]
        layer = min(max(int(layer or 1), 1), len(att)) - 1
        head = min(max(int(head or 1), 1), att[layer].shape[0]) - 1
        return attention_heatmap(state["tokens"], att[layer][head], layer, head)

    @staticmethod
    def overview(state):
        """Every layer x head as small multiples (a PIL image), or None."""
        return attention_overview(state["attention"])[0] if state and state["attention"] else None

    def probability_view(self, state, temperature, top_k, top_p):
        """The next symbol's probability bars at these settings, from the stored logits."""
        if not state:
            return message_figure("Press Generate to see what the model expects next.")
        temperature, top_k = max(float(temperature), 0.0), max(int(top_k or 0), 0)
        top_p = float(1.0 if top_p is None else top_p)
        return probability_bars(state["symbols"], state["logits"], temperature, top_k or None,
                                top_p if 0 < top_p < 1 else None)

    def pick_tile(self, state, evt: gr.SelectData):
        """A click on the overview: (layer, head) set to the tile clicked."""
        if not state or not state["attention"] or evt is None or evt.index is None:
            return gr.update(), gr.update()
        att = state["attention"]
        geometry = overview_geometry(len(att), att[0].shape[0], att[0].shape[1])
        x, y = evt.index[:2]
        found = tile_at(geometry, x, y)
        if found is None:
            return gr.update(), gr.update()
        return gr.update(value=found[0] + 1), gr.update(value=found[1] + 1)
