"""The Space's pictures, drawn from arrays the model already gave (no model runs here, so
they redraw at once when a slider moves):

- `attention_heatmap`: one head's attention, symbols on both axes, the weight on hover
  (the head view of bertviz, Vig 2019, https://github.com/jessevig/bertviz);
- `attention_overview`: every layer x head as small multiples in one image (bertviz's
  model view), with `tile_at` to tell which tile a click landed on;
- `probability_bars`: the next symbol's probabilities at a temperature, and which
  candidates top-k and top-p cut away (the sampling panel of Transformer Explainer,
  Cho et al. 2024, https://poloclub.github.io/transformer-explainer/).
"""
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale, unlabel_rgb
from PIL import Image, ImageDraw, ImageFont

from little_baby.bpe import visible as shown  # white space made visible: ' ' -> '␣'
from little_baby.engine.sampling import probabilities

COLORSCALE = "Viridis"
FUTURE_GREY = (236, 236, 236)  # the cells above the diagonal: positions not yet seen
KEPT_COLOR, BEFORE_COLOR, CUT_COLOR = "#2456b3", "#a9bfdf", "#c8c8c8"
N_BARS = 20  # candidates shown, likeliest first (20 labels fit a phone, 400 px)


def message_figure(text):
    """An empty figure that says `text` (what a plot shows before there is anything to draw)."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=14))
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=260,
                      margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white")
    return fig


def phone_friendly(fig, title, height, legend=True):
    """Lay `fig` out so that nothing overlaps from a phone's 400 px to a desktop: the
    title in the top-left corner, below the toolbar's row (plotly's modebar, top right,
    cut down to its download button), and the legend in rows under the plot."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", xref="container", y=1, yanchor="top",
                   yref="container", pad=dict(t=TOOLBAR, l=4), font=dict(size=15)),
        height=height, margin=dict(l=50, r=10, t=TOOLBAR + 58, b=110 if legend else 60),
        modebar=dict(remove=["zoom", "pan", "select", "lasso", "zoomIn", "zoomOut",
                             "autoScale", "resetScale"]))
    if legend:
        fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=0,
                                      yanchor="bottom", yref="container"))
    return fig


TOOLBAR = 34  # px at the figure's top kept for plotly's modebar


# ---- next-symbol probabilities and the sampling cut ----------------------------------------
class Cut(NamedTuple):
    """What sampling does to one row of logits (V,): all float64 / bool arrays of shape (V,)."""

    before: np.ndarray  # softmax(logits / temperature): before top-k and top-p
    after: np.ndarray   # what is sampled from: the kept candidates, renormalised; 0 elsewhere
    kept_by_k: np.ndarray  # survived top-k (all True when top-k is off)
    kept: np.ndarray    # survived top-k and top-p


def sampling_cut(logits, temperature=1.0, top_k=None, top_p=None):
    """The Cut that little_baby.engine.sampling.sample makes of `logits` at these settings,
    from the engine's own `probabilities`."""
    before = probabilities(logits, temperature)
    after = probabilities(logits, temperature, top_k, top_p)
    return Cut(before, after, probabilities(logits, temperature, top_k) > 0, after > 0)


def probability_bars(symbols, logits, temperature=1.0, top_k=None, top_p=None, n_bars=N_BARS):
    """Bars of the likeliest next symbols: light, the probability at this temperature; dark,
    what sampling draws from after top-k and top-p; hatched grey, the candidates cut away.
    `symbols`: the vocabulary (V,); `logits`: the model's last row (V,)."""
    cut = sampling_cut(logits, temperature, top_k, top_p)
    order = np.argsort(-cut.before, kind="stable")[:n_bars]
    labels = [shown(symbols[i]) for i in order]
    x = list(range(len(order)))
    why = ["kept" if cut.kept[i] else
           "cut: temperature 0 keeps only the likeliest" if temperature == 0 else
           "cut by top-k" if not cut.kept_by_k[i] else "cut by top-p" for i in order]
    hover = [f"{labels[n]!r}: {cut.before[i]:.3f} at this temperature, {cut.after[i]:.3f} "
             f"after the cut ({why[n]})" for n, i in enumerate(order)]
    fig = go.Figure([
        go.Bar(x=x, y=cut.before[order], name="at this temperature", hovertext=hover,
               hoverinfo="text", marker=dict(
                   color=[BEFORE_COLOR if cut.kept[i] else CUT_COLOR for i in order],
                   pattern_shape=["" if cut.kept[i] else "x" for i in order])),
        go.Bar(x=x, y=cut.after[order], name="what is sampled (after top-k, top-p)",
               hovertext=hover, hoverinfo="text", marker_color=KEPT_COLOR),
        go.Bar(x=[None], y=[None], name="cut away", hoverinfo="skip",  # the legend's key only
               marker=dict(color=CUT_COLOR, pattern_shape="x"))])
    n_kept = int(cut.kept.sum())
    settings = ("temperature 0 (greedy)" if temperature == 0 else
                f"temperature {temperature:g} · top-k {top_k or 'off'} · "
                f"top-p {top_p if top_p is not None and 0 < top_p < 1 else 'off'}")
    phone_friendly(fig, f"Next symbol: {n_kept} of {len(symbols)} kept<br>"
                        f"<sup>{settings}</sup>", height=420)
    fig.update_layout(
        barmode="group", bargap=0.25, plot_bgcolor="white",
        xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickfont=dict(size=14)),
        yaxis=dict(title="probability", gridcolor="#eee",
                   range=[0, min(1.0, max(cut.before[order].max(), cut.after[order].max())) * 1.1]))
    return fig


# ---- attention -------------------------------------------------------------------------------
def attention_heatmap(tokens, weights, layer, head):
    """One head's attention weights (T_queries, T_keys) as a heatmap: each row is a position
    of the prompt and how much it looks at each earlier one (the row sums to 1); cells
    above the diagonal, the future, stay blank. The colour is the square root of the
    weight (the colour bar is labelled in weights), so that weak links show beside the
    first symbol's weight of 1; hovering gives the weight itself. `layer`, `head`: 0-based."""
    weights = np.asarray(weights, dtype=np.float64)
    T, T_k = weights.shape
    keys = tokens[-T_k:]
    z = np.sqrt(np.clip(weights, 0, None))
    if T == T_k:
        z[np.triu_indices(T, k=1)] = np.nan
    text = [[f"{shown(tokens[i])!r} (#{i}) → {shown(keys[j])!r} (#{j}): {weights[i, j]:.3f}"
             for j in range(T_k)] for i in range(T)]
    cell, font = (16, 12) if T <= 64 else (9, 8)
    ticks = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1]
    fig = go.Figure(go.Heatmap(
        z=z, text=text, hoverinfo="text", hoverongaps=False, colorscale=COLORSCALE, zmin=0,
        zmax=1, colorbar=dict(title="weight", thickness=12, tickvals=np.sqrt(ticks).tolist(),
                              ticktext=[f"{t:g}" for t in ticks])))
    axis = dict(tickmode="array", tickfont=dict(size=font, family="monospace"), showgrid=False)
    phone_friendly(fig, f"Layer {layer + 1}, head {head + 1}: where each symbol looks",
                   height=min(1400, 200 + cell * T), legend=False)
    fig.update_layout(
        plot_bgcolor="white",
        xaxis=dict(axis, title="looks at (key)", tickvals=list(range(T_k)),
                   ticktext=[shown(t) for t in keys], side="bottom"),
        yaxis=dict(axis, title="symbol (query)", tickvals=list(range(T)),
                   ticktext=[shown(t) for t in tokens], autorange="reversed"))
    return fig


class Overview(NamedTuple):
    """Where the tiles of `attention_overview` are, in pixels."""

    n_layers: int
    n_heads: int
    tile: int   # a tile's side
    left: int   # room for the row labels
    top: int    # room for the column labels
    gap: int
    pool: int = 1  # pool x pool cells make one pixel (long prompts), else 1

    @property
    def size(self):
        """(width, height) of the image."""
        return (self.left + self.n_heads * (self.tile + self.gap),
                self.top + self.n_layers * (self.tile + self.gap))

    def corner(self, layer, head):
        """(x, y) of the top-left pixel of the tile of (layer, head), 0-based."""
        return self.left + head * (self.tile + self.gap), self.top + layer * (self.tile + self.gap)


def overview_geometry(n_layers, n_heads, n_tokens, tile_target=64):
    """The Overview of an image of n_layers x n_heads tiles of n_tokens x n_tokens cells,
    each cell scaled up to whole pixels so that a tile is about `tile_target` wide, or,
    for more than tile_target tokens, `pool` x `pool` cells pooled into one pixel."""
    pool = -(-n_tokens // tile_target)  # ceil
    cells = -(-n_tokens // pool)
    tile = cells * max(1, tile_target // cells)
    return Overview(n_layers, n_heads, tile, left=62, top=24, gap=6, pool=pool)


def tile_at(geometry, x, y):
    """(layer, head), 0-based, of the tile under pixel (x, y), or None (a gap or a label)."""
    g, step = geometry, geometry.tile + geometry.gap
    if x < g.left or y < g.top:
        return None
    head, dx = divmod(int(x) - g.left, step)
    layer, dy = divmod(int(y) - g.top, step)
    if head >= g.n_heads or layer >= g.n_layers or dx >= g.tile or dy >= g.tile:
        return None
    return layer, head


def attention_overview(attention):
    """Every layer x head of `attention` (a list with one (heads, T, T) array per layer) as
    small multiples in one RGB image. Each row is scaled to its own largest weight, so every
    position's favourite key is brightest however many keys it shares its attention with
    (the heatmap shows the true weights); the future is light grey. Past 64 tokens,
    blocks of cells are pooled (their largest value) to keep the image small.
    Returns (PIL image, Overview)."""
    n_layers, (n_heads, T, _) = len(attention), attention[0].shape
    g = overview_geometry(n_layers, n_heads, T)
    lut = np.array([unlabel_rgb(c) for c in sample_colorscale(COLORSCALE, np.linspace(0, 1, 256))],
                   dtype=np.uint8)  # (256, 3)
    future = _pool(np.triu(np.ones((T, T), bool), k=1), g.pool, np.min, True)  # (T', T')
    scale = g.tile // future.shape[0]
    canvas = np.full((g.size[1], g.size[0], 3), 255, np.uint8)
    for layer, heads in enumerate(attention):
        for head in range(n_heads):
            weights = np.clip(np.asarray(heads[head], dtype=np.float64), 0, None)
            level = weights / np.maximum(weights.max(axis=1, keepdims=True), 1e-12)  # (T, T)
            level = _pool(level, g.pool, np.max, 0.0)  # (T', T')
            rgb = lut[np.round(level * 255).astype(np.intp)]  # (T', T', 3)
            rgb[future] = FUTURE_GREY
            x0, y0 = g.corner(layer, head)
            canvas[y0:y0 + g.tile, x0:x0 + g.tile] = rgb.repeat(scale, 0).repeat(scale, 1)
    image = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(image), _font(12)
    for head in range(n_heads):
        x0, _ = g.corner(0, head)
        draw.text((x0 + 2, 4), f"head {head + 1}", fill=(60, 60, 60), font=font)
    for layer in range(n_layers):
        _, y0 = g.corner(layer, 0)
        draw.text((4, y0 + g.tile // 2 - 7), f"layer {layer + 1}", fill=(60, 60, 60), font=font)
    return image, g


def _pool(a, pool, reduce, pad):
    """`a` (T, T) with each pool x pool block reduced to one value, padded with `pad`
    to a multiple of pool first: (ceil(T / pool), ceil(T / pool))."""
    if pool == 1:
        return a
    n = -(-a.shape[0] // pool)
    padded = np.full((n * pool, n * pool), pad, dtype=a.dtype)
    padded[:a.shape[0], :a.shape[1]] = a
    return reduce(padded.reshape(n, pool, n, pool), axis=(1, 3))


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1, or no FreeType: the small bitmap font
        return ImageFont.load_default()
