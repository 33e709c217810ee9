"""The page: `build_demo` lays out the components, wires them to the Handlers and
bounds the queue; `launch` serves it, never with a share link.

Named API endpoints (what gradio_client calls; spaces/README.md documents them):
  /generate       model, prompt, max_new_tokens, temperature, top_k, top_p, seed, use_cache
                  -> streams (text so far, status)
  /inspect        model, prompt, layer, head, temperature, top_k, top_p
                  -> (heatmap, overview, probability bars, layer, head, note, text emptied,
                  status, layer slider, head slider); keeps the prompt's attention and
                  logits in the session for the two below
  /attention      layer, head -> heatmap              (from the session's /inspect)
  /probabilities  temperature, top_k, top_p -> bars   (from the session's /inspect)
  /summary        model -> (summary, model card, status: why it cannot be opened, or
                  unchanged)
"""
import gradio as gr

from .handlers import Handlers, Limits
from .models import Shelf

TITLE = "The Little Baby"
HEADLINE = """# The Little Baby
Small GPTs written by hand in NumPy. Pick one, give it the start of a text, watch it go on."""
INTRO = """### What you see
The model writes one character at a time. Under the text: **what it expects next** (move
temperature, top-k and top-p to see the choice narrow) and **where each character looks**
(its attention, layer by layer, head by head). Every forward and backward pass of these
models is written by hand in NumPy; the code is in the files of this Space."""
EXAMPLES = [  # openings from Tiny Shakespeare (Karpathy's char-rnn data set)
    "ROMEO:",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "KING RICHARD III:\nNow is the winter of our discontent",
    "JULIET:\nO Romeo, Romeo! wherefore art thou",
    "To be, or not to be",
]
CSS = """
#output textarea, #prompt textarea {font-family: ui-monospace, monospace}
#summary, #status, #model {overflow-wrap: anywhere}
#status {min-height: 1.6em}
#model input {text-overflow: ellipsis}
.gradio-container h1 {margin: 0.2em 0}
"""
STATE_SECONDS = 3600  # how long a session keeps its prompt's attention and logits


def build_demo(shelf=None, limits=Limits()):
    """The Space's gr.Blocks over `shelf` (a Shelf; default: the choices of the
    environment, see models.py), queued within `limits`. On a phone (columns stack) the
    model, the prompt, Generate and the status come first, within the first screen."""
    shelf = shelf if shelf is not None else Shelf()
    h = Handlers(shelf, limits)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(HEADLINE)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                model = gr.Dropdown([(c.label, c.value) for c in shelf.choices],
                                    value=shelf.default, allow_custom_value=True, label="Model",
                                    info="An age, or type a GUID or a Hub repo id.",
                                    elem_id="model")
                prompt = gr.Textbox("ROMEO:", label="Prompt", lines=3, max_lines=8,
                                    elem_id="prompt")
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate",
                                         min_width=100)
                    stop = gr.Button("Stop", variant="stop", elem_id="stop", min_width=80)
                status = gr.Markdown(label="Status", elem_id="status")
                output = gr.Textbox(label="What the model writes", lines=8, interactive=False,
                                    elem_id="output")
                gr.Examples([[e] for e in EXAMPLES], inputs=[prompt], label="Shakespeare openings")
            with gr.Column(scale=2, min_width=320):
                with gr.Accordion("About this model", open=True):
                    summary = gr.Markdown(label="Summary", elem_id="summary")
                    with gr.Accordion("Model card", open=False):
                        card = gr.Markdown(label="Model card")
                with gr.Accordion("Settings", open=True):
                    max_new = gr.Slider(1, limits.max_new_tokens, value=200, step=1,
                                        label="Max new tokens", elem_id="max-new")
                    temperature = gr.Slider(0, 2, value=0.8, step=0.05, label="Temperature",
                                            info="Divides the logits: low = safe, high = wild, "
                                                 "0 = always the likeliest.")
                    top_k = gr.Slider(0, 100, value=40, step=1, label="Top-k",
                                      info="Keep only the k likeliest; 0 = off.")
                    top_p = gr.Slider(0.05, 1, value=1, step=0.05, label="Top-p",
                                      info="Keep the likeliest until their probability adds up "
                                           "to p; 1 = off.")
                    seed = gr.Number(1, precision=0, label="Seed",
                                     info="The same seed gives the same text; "
                                          "-1 = a new one each time.")
                    use_cache = gr.Checkbox(True, label="KV cache",
                                            info="Keep each position's keys and values: the "
                                                 "same text, fewer sums.", elem_id="kv-cache")
        with gr.Tabs():
            with gr.Tab("Next character", id="next"):
                bars = gr.Plot(label="Next character", show_label=False, elem_id="bars")
            with gr.Tab("Attention", id="attention", elem_id="attention-tab"):
                note = gr.Markdown("Press Generate to see the prompt's attention.", label="Note")
                with gr.Row():  # buttons for a few layers (heads), a slider for many
                    layer = gr.Radio([1], value=1, label="Layer", elem_id="layer")
                    layer_slider = gr.Slider(1, 2, value=1, step=1, label="Layer",
                                             visible=False, elem_id="layer-slider")
                    head = gr.Radio([1], value=1, label="Head", elem_id="head")
                    head_slider = gr.Slider(1, 2, value=1, step=1, label="Head",
                                            visible=False, elem_id="head-slider")
                heatmap = gr.Plot(label="One head", show_label=False, elem_id="heatmap")
                gr.Markdown("**Every layer × head** (each row scaled to its strongest link; "
                            "click a tile to see it above)")
                overview = gr.Image(label="Every layer × head", show_label=False, type="pil",
                                    format="png", interactive=False, elem_id="overview")
        gr.Markdown(INTRO)
        state = gr.State(None, time_to_live=STATE_SECONDS)

        # the values come to the handlers as sent (preprocess=False), so that each bad one
        # (NaN, infinity, text) gets a message naming its setting and range (handlers.number)
        # the status line has no progress overlay (nor an "Error" badge over the reason it
        # gives): the text box below it shows the progress
        # one forward pass over the prompt for the pictures, then the text streams; each
        # first empties the text and says what it does in the status, which a failure
        # replaces with its reason (kept until the next request)
        look = generate.click(h.inspect, [model, prompt, layer, head, temperature, top_k, top_p],
                              [state, heatmap, overview, bars, layer, head, note, output, status,
                               layer_slider, head_slider],
                              api_name="inspect", concurrency_limit=limits.loaders,
                              preprocess=False, show_progress_on=output)
        look.success(h.generate, [model, prompt, max_new, temperature, top_k, top_p, seed,
                                  use_cache], [output, status], api_name="generate",
                     concurrency_limit=limits.loaders, preprocess=False, show_progress_on=output)
        # Stop: the generation stops itself and says after how many tokens (handlers.stop)
        stop.click(h.stop, [status], [status], cancels=[look], queue=False,
                   api_visibility="private")
        gr.on([temperature.change, top_k.change, top_p.change], h.probability_view,
              [state, temperature, top_k, top_p], bars, api_name="probabilities", queue=False,
              show_progress="hidden", preprocess=False)
        gr.on([layer.change, head.change], h.attention_view, [state, layer, head], heatmap,
              api_name="attention", queue=False, show_progress="hidden", preprocess=False)
        # a slider (many layers or heads) sets its buttons, hidden, whose change redraws
        for buttons, slider in ((layer, layer_slider), (head, head_slider)):
            slider.input(None, slider, buttons, js="(v) => v", queue=False)
        overview.select(h.pick_tile, [state], [layer, head, layer_slider, head_slider],
                        api_visibility="private", queue=False)
        model.change(h.forget, None, [state, heatmap, overview, bars, note, output, status],
                     api_visibility="private", queue=False)
        model.change(h.summary_and_status, model, [summary, card, status], api_name="summary",
                     concurrency_limit=limits.loaders)  # waits for a load, runs no model
        demo.load(h.summary_and_status, model, [summary, card, status],
                  api_visibility="private", concurrency_limit=limits.loaders)
    # requests are served `loaders` at once (most of them wait: for a model to download, or
    # for one of the `concurrency` places where a model runs, handlers.Handlers.place)
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
    return demo


def launch(demo, **options):
    """demo.launch with the Space's look and no share link, whatever the environment says;
    it listens on 127.0.0.1 unless `server_name` or $GRADIO_SERVER_NAME (which a Space
    sets) say otherwise. `options` as for gr.Blocks.launch (server_port, quiet, ...).
    Returns what launch returns: (app, local URL, share URL)."""
    return demo.launch(**{"theme": gr.themes.Soft(), "css": CSS, **options, "share": False})
