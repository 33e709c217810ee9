"""What the Space does when a visitor acts: plain methods of `Handlers`, one per event,
that take the components' values and return (or, for `generate`, yield) theirs. They
can be called without a browser or a server (tests do).

The model runs in two of them only: `generate` (the text) and `inspect` (one forward
pass over the prompt, keeping each layer's attention and the last position's logits in
the visitor's session state). `attention_view`, `probability_view` and `pick_tile`
redraw from that state, so moving a slider never runs the model again.
"""
import contextlib
import math
import numbers
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import gradio as gr
import numpy as np

from little_baby.engine.sampling import OFF, check_settings, none_if_off
from little_baby.errors import BabyError, GenerationError, TokenizerError

from .models import (ModelUnavailable, for_visitor, model_card, model_summary, position_unit,
                     public)
from .pictures import (attention_heatmap, attention_overview, message_figure, overview_geometry,
                       probability_bars, tile_at)


@dataclass(frozen=True)
class Limits:
    """What keeps a public Space alive."""

    max_new_tokens: int = 1000
    max_prompt: int = 20_000    # characters read of a prompt: a longer one keeps its last ones
    time_limit: float = 60.0    # seconds of generation per request
    concurrency: int = 2        # models running at once (a Space's CPU has 2 cores)
    queue_size: int = 16        # requests waiting; more are turned away at once
    max_attention: int = 2 ** 23  # attention weights kept for the pictures (layers x heads x T x T)
    max_overview_tiles: int = 256  # tiles in the overview image (layers x heads)
    model_wait: float = 30.0    # seconds a request waits for a model still loading
    loaders: int = 16           # requests served at once, most waiting for a model or a place
    place_wait: float = 120.0   # seconds a request waits for a place to run its model


def error(message):
    """The gr.Error a visitor sees: the message only (no server path), no traceback in the
    server's log."""
    return gr.Error(public(message), print_exception=False)


def failed(message):
    """The status line of a request that failed: what went wrong, kept until the next one."""
    return f"**Failed:** {public(message)}"


def to_numpy(a):
    """A NumPy copy of a NumPy or CuPy array."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def number(name, value, low, high, whole=False, low_open=False, off=""):
    """`value` if it is a finite number in [low, high] ((low, high] with `low_open`), and a
    whole one with `whole`; else a gr.Error that names the setting and its range. Text,
    booleans, NaN and infinities are refused (a JSON client can send any of them)."""
    kind = "a whole number" if whole else "a number"
    bounds = f"in ({low:g}, {high:g}]" if low_open else f"from {low:g} to {high:g}"
    why = f"{name} must be {kind} {bounds}{off}, not {value!r}."
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise error(why)
    value = float(value)
    if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
        raise error(why)
    if whole:
        if value != int(value):
            raise error(why)
        return int(value)
    return value


def flag(name, value):
    """`value` if it is a boolean, else a gr.Error naming the setting."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise error(f"{name} must be true or false, not {value!r}.")


def stopped_after(n):
    """The status of a generation the visitor stopped after n tokens."""
    return f"**Stopped** after {n} token{'s' * (n != 1)}, when you pressed Stop."


GENERATING, OPENING = "Generating…", "Opening the model and reading the prompt…"
MAX_BUTTONS = 8  # layers or heads shown as buttons; more get a slider
KEEP = gr.update()  # a component left as it is (an update with a value is never shared:
# gradio pops the value out of the dict it is given)


def pickers(n, value):
    """(buttons, slider): the updates of the two controls that pick one of n layers (or
    heads), both set to `value`; the buttons show up to MAX_BUTTONS, the slider above."""
    few = n <= MAX_BUTTONS
    return (gr.update(choices=list(range(1, n + 1)), value=value, visible=few),
            gr.update(maximum=max(n, 2), value=value, visible=not few))  # max > min


class Handlers:
    """The Space's event handlers over a Shelf of models, within Limits."""

    def __init__(self, shelf, limits=Limits()):
        self.shelf, self.limits = shelf, limits
        # the places where a model runs: a request takes one only once its model is
        # loaded, so a download, however slow, never keeps another model from running
        self._places = threading.BoundedSemaphore(limits.concurrency)
        self._stops = OrderedDict()  # a session's id -> when its visitor last pressed Stop

    def stop(self, status, request: gr.Request = None):
        """Stop pressed: the session's generation stops before its next token and says
        so itself, as its last update (so no late update can say otherwise). Before the
        text began (the model opening, the prompt read) that step is cancelled, and the
        status returned here says so; otherwise the status is left to the generation."""
        session = getattr(request, "session_hash", None)
        self._stops[session] = time.monotonic()
        self._stops.move_to_end(session)
        while len(self._stops) > 10_000:
            self._stops.popitem(last=False)
        if isinstance(status, str) and status.startswith(OPENING):
            return stopped_after(0)
        return gr.update()

    def _stopped_since(self, request, start):
        return self._stops.get(getattr(request, "session_hash", None), -1.0) > start

    @contextlib.contextmanager
    def place(self):
        """One of the limits.concurrency places where a model runs, or a gr.Error after
        limits.place_wait seconds."""
        if not self._places.acquire(timeout=self.limits.place_wait):
            raise error(f"This Space is busy: every place to run a model stayed taken for "
                        f"{self.limits.place_wait:g} s. Try again in a minute.")
        try:
            yield
        finally:
            self._places.release()

    # ---- the model ------------------------------------------------------------------------
    def model(self, name):
        """The model `name` names, or a gr.Error that says why it cannot be had."""
        try:
            return self.shelf.get(name, wait=self.limits.model_wait)
        except ModelUnavailable as e:
            raise error(str(e)) from e

    def summary(self, model):
        """(summary, model card): Markdown for beside the picker; a model that cannot be
        opened gets its reason instead of a summary, never an exception."""
        try:
            baby = self.shelf.get(model)
        except ModelUnavailable as e:
            if "still downloading or loading" in str(e):
                return f"**Still loading.** {public(e)}", ""
            return f"**Cannot open this model.** {public(e)}", ""
        return (public(model_summary(model.strip(), baby)),
                public(model_card(baby) or "This model's folder has no card."))

    def summary_and_status(self, model):
        """(summary, model card, status): the status says why a model cannot be opened
        (where the visitor looks, under Generate), and is left as it is otherwise."""
        summary, card = self.summary(model)
        if summary.startswith("**Cannot open this model.**"):
            return summary, card, failed(summary.split("** ", 1)[1])
        if summary.startswith("**Still loading.**"):
            return summary, card, summary.split("** ", 1)[1]
        return summary, card, gr.update()

    # ---- the text --------------------------------------------------------------------------
    def generate(self, model, prompt, max_new_tokens=200, temperature=0.8, top_k=40, top_p=1.0,
                 seed=-1, use_cache=True, request: gr.Request = None):
        """Yield (the text generated so far, a status line) as each token is made; the last
        status gives the tokens, the time and tokens/s. The prompt is not repeated. A
        request that fails yields an empty text and a status that says why, then raises
        the gr.Error (which an API client gets)."""
        try:
            settings = self._sampling(max_new_tokens, temperature, top_k, top_p, seed)
            use_cache = flag("use_cache", use_cache)
            baby = self.model(model)
            prompt, notice, _ = self._check_prompt(baby, prompt)
        except gr.Error as e:
            yield "", failed(e.message)
            raise
        cache = "on" if use_cache else "off"
        notice = f" · {notice}" if notice else ""
        text, n, asked = "", 0, time.monotonic()
        yield text, GENERATING + notice
        stopped_at_limit = False
        try:
            with self.place():
                start = time.perf_counter()
                for piece in baby.stream(prompt, use_cache=use_cache, **settings):
                    if self._stopped_since(request, asked):
                        yield text, stopped_after(n) + notice
                        return
                    text, n = text + piece, n + 1
                    if time.perf_counter() - start > self.limits.time_limit:
                        stopped_at_limit = True
                        break
                    yield text, f"{GENERATING} {n} tokens{notice}"
        except gr.Error as e:
            yield text, failed(e.message)
            raise
        except BabyError as e:
            yield text, failed(f"after {n} tokens: {for_visitor(e)}")
            raise error(for_visitor(e)) from e
        seconds = max(time.perf_counter() - start, 1e-9)
        why = f" (stopped at the {self.limits.time_limit:g} s limit)" if stopped_at_limit else ""
        yield text, (f"**{n} tokens in {seconds:.2f} s · {n / seconds:.1f} tokens/s**{why} · "
                     f"{baby.backend.device.upper()}, KV cache {cache}{notice}")

    def _check_prompt(self, baby, prompt):
        """(prompt, notice, n_symbols): the prompt if the model knows all its symbols, else a gr.Error
        that names what it does not know. A prompt longer than the model's context is
        read from its end (the model sees its last n_ctx symbols; past limits.max_prompt
        characters the start is not even read), and the notice says so, else it is '';
        n_symbols: how many the prompt read has."""
        if prompt is None:
            prompt = ""
        if not isinstance(prompt, str):
            raise error(f"prompt must be text, not {type(prompt).__name__}.")
        n_chars = len(prompt)
        prompt = prompt[-self.limits.max_prompt:] if n_chars > self.limits.max_prompt else prompt
        try:
            ids = baby.tokenizer.encode(prompt)
        except TokenizerError:
            known = set(baby.tokenizer.symbols)
            missing = sorted({s for s in baby.tokenizer.split(prompt) if s not in known})
            kind = "characters" if baby.config.c_tokenizer == "char" else "words or symbols"
            listed = ", ".join(repr(m) for m in missing[:20])
            listed += " …" if len(missing) > 20 else ""
            raise error(f"This model does not know {len(missing)} of the prompt's {kind}: "
                        f"{listed}. Remove them, or choose a model trained on text that has "
                        f"them.") from None
        n_ctx, unit = baby.config.n_ctx, position_unit(baby)
        if len(ids) <= n_ctx and n_chars == len(prompt):
            return prompt, "", len(ids)
        if baby.config.c_tokenizer == "char":
            kept = prompt[-n_ctx:]
            return kept, (f"the prompt has {n_chars:,} characters and this model reads only "
                          f"its last {len(kept):,} (its context), so the first "
                          f"{n_chars - len(kept):,} were left out"), len(ids)
        return prompt, (f"the prompt has {n_chars:,} characters; this model reads only its last "
                        f"{min(len(ids), n_ctx):,} {unit}s (its context), so the start was left "
                        f"out"), len(ids)

    def _sampling(self, max_new_tokens, temperature, top_k, top_p, seed):
        """baby.stream's settings from the controls' values (top-k 0 and top-p 1 are off, a
        negative seed is a new one each time); a gr.Error names the one out of range."""
        n = number("max_new_tokens", max_new_tokens, 1, self.limits.max_new_tokens, whole=True)
        temperature = number("temperature", temperature, 0, 2)
        top_k = number("top_k", top_k, 0, 100_000, whole=True, off=_off("top_k"))
        top_p = number("top_p", OFF["top_p"] if top_p is None else top_p, 0, 1, low_open=True,
                       off=_off("top_p"))
        seed = number("seed", OFF["seed"] if seed is None else seed, -1, 2 ** 32 - 1,
                      whole=True, off=f" ({OFF['seed']}: a new one each time)")
        try:
            settings = check_settings(n, temperature, none_if_off("top_k", top_k),
                                      none_if_off("top_p", top_p), none_if_off("seed", seed),
                                      off={key: str(value) for key, value in OFF.items()})
        except GenerationError as e:
            raise error(str(e)) from None
        return settings._asdict()

    # ---- looking inside ----------------------------------------------------------------------
    def inspect(self, model, prompt, layer=1, head=1, temperature=0.8, top_k=40, top_p=1.0):
        """One forward pass over the prompt (its last n_ctx symbols, what the model sees
        when it starts to generate). Yields (state, heatmap, overview image, probability
        bars, layer buttons, head buttons, note, text, status, layer slider, head slider):
        first everything emptied (no picture or text of the last request stays while this
        one runs), then the pictures. A request that fails yields the emptied page with a
        status that says why, then raises the gr.Error."""
        empty = self.forget()
        yield (*empty[:4], KEEP, KEEP, empty[4], "", OPENING, KEEP, KEEP)
        try:
            layer = number("layer", 1 if layer is None else layer, 1, 10_000, whole=True)
            head = number("head", 1 if head is None else head, 1, 100_000, whole=True)
            sampling = self._view_settings(temperature, top_k, top_p)
            baby = self.model(model)
            prompt, _, n_symbols = self._check_prompt(baby, prompt)
        except gr.Error as e:
            yield (*empty[:4], KEEP, KEEP, empty[4], "", failed(e.message), KEEP, KEEP)
            raise
        if not prompt:
            blank = message_figure("Type a prompt to see inside the model.")
            yield (None, blank, None, blank, KEEP, KEEP,
                   "Type a prompt, then press Generate.", "", OPENING, KEEP, KEEP)
            return
        try:
            with self.place():
                state, seen = self._look(baby, prompt)
        except gr.Error as e:
            yield (*empty[:4], KEEP, KEEP, empty[4], "", failed(e.message), KEEP, KEEP)
            raise
        except BabyError as e:
            yield (*empty[:4], KEEP, KEEP, empty[4], "", failed(for_visitor(e)), KEEP, KEEP)
            raise error(for_visitor(e)) from e
        note = self._note(baby, n_symbols, state, seen)
        n_layers, n_heads = (len(state["attention"]), state["attention"][0].shape[0]) \
            if state["attention"] else (1, 1)
        layer, head = min(layer, n_layers), min(head, n_heads)
        (layer_buttons, layer_slider), (head_buttons, head_slider) = (
            pickers(n_layers, layer), pickers(n_heads, head))
        yield (state, self.attention_view(state, layer, head), self.overview(state),
               self.probability_view(state, *sampling), layer_buttons, head_buttons, note, "",
               GENERATING, layer_slider, head_slider)

    def _look(self, baby, prompt):
        """(state, n_seen): the logits of the prompt's last position over the whole context,
        and each layer's attention over as many of the last symbols as limits.max_attention
        allows (layers x heads x T x T weights kept at most), n_seen of them."""
        ids = np.asarray(baby.tokenizer.encode(prompt))[-baby.config.n_ctx:]
        cfg = baby.config
        maps = cfg.n_layers * cfg.n_heads
        seen = min(len(ids), int(math.isqrt(max(self.limits.max_attention // max(maps, 1), 0))))
        if seen == len(ids):
            logits, attention = baby.logits(ids[None], return_attention=True)
        else:  # the full context for the next symbol, a shorter window for the pictures
            logits = baby.logits(ids[None])
            attention = baby.logits(ids[None, -seen:], return_attention=True)[1] if seen else None
        symbols = baby.tokenizer.symbols  # BPE: each token's text, bytes of a split character escaped
        tokens = [symbols[int(i)] for i in ids]
        return {"tokens": tokens[len(tokens) - seen:] if seen else [],
                "symbols": list(baby.tokenizer.symbols),
                "logits": to_numpy(logits)[0, -1].astype(np.float64),
                "attention": [to_numpy(a)[0].astype(np.float32) for a in attention or []],
                "shortened": seen < len(ids), "maps": maps}, seen

    def forget(self):
        """A new model picked: (state, heatmap, overview, bars, note, text, status) emptied,
        so that no picture or text of the last model stays on the page."""
        return (None, message_figure("Press Generate to see the prompt's attention."), None,
                message_figure("Press Generate to see what the model expects next."),
                "Press Generate to see the prompt's attention.", "", "")

    def _note(self, baby, n_symbols, state, seen):
        L, H = baby.config.n_layers, baby.config.n_heads
        size = (f"{baby.config.c_attention} attention; {L} layer{'s' * (L != 1)} "
                f"× {H} head{'s' * (H != 1)}")
        if not state["attention"] and not state["shortened"]:
            return f"{size}."
        if not seen:
            return (f"{size}: too many to show here ({L * H:,} maps; this Space shows at most "
                    f"{self.limits.max_attention:,} weights).")
        where = (f"all {n_symbols} symbols of the prompt" if seen == n_symbols else
                 f"the last {seen} of the prompt's {n_symbols} symbols"
                 + (" (its context window)" if not state["shortened"] else
                    f" (the pictures' limit: {L * H:,} maps of {seen} × {seen} weights; the "
                    f"next-symbol bars read the whole context)"))
        tiles = self._overview_layers(state)
        over = "" if tiles >= L else (
            f" The overview shows layers 1 to {tiles} (at most "
            f"{self.limits.max_overview_tiles} tiles)." if tiles else
            " Too many heads for the overview; pick a layer and a head above.")
        return f"{size}, over {where}.{over}"

    def _overview_layers(self, state):
        att = state["attention"]
        return min(len(att), self.limits.max_overview_tiles // att[0].shape[0]) if att else 0

    def attention_view(self, state, layer, head):
        """The heatmap of head `head` of layer `layer` (both counted from 1)."""
        layer = number("layer", 1 if layer is None else layer, 1, 10_000, whole=True)
        head = number("head", 1 if head is None else head, 1, 100_000, whole=True)
        if not state:
            return message_figure("Press Generate to see the prompt's attention.")
        if not state["attention"]:
            return message_figure("This model's attention keeps no weights to show (gla and "
                                  "aft mix the past without comparing queries with keys)."
                                  if not state.get("shortened") else
                                  "Too many layers × heads to show here.")
        att = state["attention"]
        layer = min(layer, len(att)) - 1
        head = min(head, att[layer].shape[0]) - 1
        return attention_heatmap(state["tokens"], att[layer][head], layer, head)

    def overview(self, state):
        """Every layer x head as small multiples (a PIL image; at most
        limits.max_overview_tiles tiles, the first layers), or None."""
        n = self._overview_layers(state) if state else 0
        return attention_overview(state["attention"][:n])[0] if n else None

    def _view_settings(self, temperature, top_k, top_p):
        return (number("temperature", temperature, 0, 2),
                number("top_k", top_k or OFF["top_k"], 0, 100_000, whole=True,
                       off=_off("top_k")),
                number("top_p", OFF["top_p"] if top_p is None else top_p, 0, 1, low_open=True,
                       off=_off("top_p")))

    def probability_view(self, state, temperature, top_k, top_p):
        """The next symbol's probability bars at these settings, from the stored logits."""
        temperature, top_k, top_p = self._view_settings(temperature, top_k, top_p)
        if not state:
            return message_figure("Press Generate to see what the model expects next.")
        return probability_bars(state["symbols"], state["logits"], temperature,
                                none_if_off("top_k", top_k), none_if_off("top_p", top_p))

    def pick_tile(self, state, evt: gr.SelectData):
        """A click on the overview: (layer buttons, head buttons, layer slider, head slider)
        set to the tile clicked."""
        if not state or not state["attention"] or evt is None or evt.index is None:
            return KEEP, KEEP, KEEP, KEEP
        att = state["attention"][:self._overview_layers(state)]
        if not att:
            return KEEP, KEEP, KEEP, KEEP
        geometry = overview_geometry(len(att), att[0].shape[0], att[0].shape[1])
        x, y = evt.index[:2]
        found = tile_at(geometry, x, y)
        if found is None:
            return KEEP, KEEP, KEEP, KEEP
        layer, head = found[0] + 1, found[1] + 1
        return (gr.update(value=layer), gr.update(value=head), gr.update(value=layer),
                gr.update(value=head))


def _off(key):
    """The note beside a control's range: which value turns it off (sampling.OFF)."""
    return f" ({OFF[key]}: off)"
