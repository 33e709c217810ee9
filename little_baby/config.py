"""`BabyConfig`: every setting of a model and of its training, with the original
project's key names (so its config files load unchanged) and its older aliases."""
import dataclasses
import json
import math
from dataclasses import dataclass, field, fields

from .errors import ConfigError

# Older names the original project used, mapped to today's keys.
ALIASES = {
    "dropout": "r_dropout",
    "lr": "r_learn",
    "num_epochs": "n_epochs",
    "s_batch": "batch_size",
}
# Variant names the original project also used.
VALUE_ALIASES = {
    "c_attention": {"lda": "gla"},
    "c_network": {"lin": "gln"},
}


# The variants the engine's registries hold (engine/attention, engine/network; a test
# checks that these names are the registries' keys).
ATTENTION_NAMES = ("mha", "moh", "gqa", "swh", "gla", "rfa", "aft")
NETWORK_NAMES = ("mlp", "moe", "lor", "swi", "gln", "ggl", "nft")

# What a setting is about: the architecture fixes the weights' shapes and maths, so a
# finetune keeps it; training and device settings may change between runs.
ARCHITECTURE, TRAINING, DEVICE = "architecture", "training", "device"


def architecture(default):
    return field(default=default, metadata={"kind": ARCHITECTURE})


def training(default):
    return field(default=default, metadata={"kind": TRAINING})


def device(default):
    return field(default=default, metadata={"kind": DEVICE})


@dataclass
class BabyConfig:
    """Architecture, training and device settings of one model.

    Key names follow the original project: `c_` a choice, `n_` a count, `r_` a rate,
    `s_` a strategy, `d_` a data type.
    """

    # architecture
    c_sequence: str = architecture("pre")  # LayerNorm before ('pre') or after ('post') each sub-layer
    c_attention: str = architecture("mha")  # attention variant (registry name)
    c_network: str = architecture("mlp")  # feed-forward variant (registry name)
    c_tokenizer: str = architecture("char")  # 'char', 'word' or 'bpe' (byte-level BPE)
    n_ctx: int = architecture(64)  # context window, in tokens
    n_emb: int = architecture(128)  # embedding width C
    head_size: int = architecture(128)  # total width of all attention heads together
    n_heads: int = architecture(4)  # attention heads (head_size / n_heads each)
    n_layers: int = architecture(4)  # transformer blocks
    n_hidden: int = architecture(4)  # feed-forward expansion: hidden width = n_hidden * n_emb
    n_kv_heads: int = architecture(0)  # grouped-query attention: key/value heads (0 = n_heads)
    n_experts: int = architecture(4)  # mixture of experts: experts per layer
    n_rank: int = architecture(8)  # low-rank network: rank of the low-rank pair
    n_groups: int = architecture(4)  # grouped gated linear network: groups
    s_window: int = architecture(16)  # recurrent focused attention: sliding window, in tokens
    r_temp: float = architecture(1.0)  # attention temperature: scores are divided by it
    r_ln_eps: float = architecture(1e-5)  # LayerNorm's epsilon: x_hat = (x - mean) / sqrt(var + eps)
    c_tie: bool = architecture(False)  # tied embeddings (GPT-2's): the output layer is wte transposed, no bias
    # training
    n_epochs: int = training(1)
    batch_size: int = training(16)
    r_dropout: float = training(0.1)
    r_learn: float = training(1e-3)
    r_weight_decay: float = training(0.1)
    r_clip: float = training(1.0)  # clip gradients to this global norm (0 = no clipping)
    s_warmup: object = training("auto")  # 'none', 'auto' or a fraction of all steps
    c_shuffle: bool = training(True)
    r_split: float = training(0.9)  # fraction of the text used for training, the rest validates
    seed: int = training(1337)
    # device
    c_device: str = device("cpu")
    d_type: str = device("fp32")
    c_device_cpu_cores: int = device(0)  # CPU threads (training shards, AdamW, attention); 0 = all
    c_device_gpu_core: int = device(0)  # which GPU
    # read and recorded but changes nothing: kept only so the original project's config
    # files load (CuPy has no public switch for TF32; cuBLAS decides)
    c_device_gpu_tensor: int = device(0)

    def __post_init__(self):
        self.check_types()
        for key, names in VALUE_ALIASES.items():
            value = getattr(self, key)
            setattr(self, key, names.get(value, value))
        self.validate()

    # ---- checks -------------------------------------------------------------------
    def check_types(self):
        """Raise ConfigError naming the first setting whose type is not its default's
        (a str for c_ and d_ settings, a whole number for n_, a finite number for r_, ...):
        a config file from elsewhere may hold anything."""
        for f in fields(self):
            value, default = getattr(self, f.name), f.default
            if f.name == "s_warmup":
                ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
            elif isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, float):
                ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                      and math.isfinite(value))
            else:
                ok = isinstance(value, type(default))
            if not ok:
                kind = {bool: "true or false", int: "a whole number", float: "a finite number",
                        str: "a string"}.get(type(default), "a string or a number")
                raise ConfigError(f"{f.name} must be {kind}, not {value!r} "
                                  f"({type(value).__name__}).")

    def validate(self):
        """Raise ConfigError naming the first impossible setting and how to fix it."""
        def need(ok, message):
            if not ok:
                raise ConfigError(message)

        for key in ("n_ctx", "n_emb", "head_size", "n_heads", "n_layers", "n_hidden",
                    "n_epochs", "batch_size", "n_experts", "n_rank", "n_groups", "s_window"):
            value = getattr(self, key)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                 f"{key} must be a whole number of at least 1, not {value!r}.")
        need(self.c_sequence in ("pre", "post"),
             f"c_sequence must be 'pre' or 'post', not {self.c_sequence!r}.")
        need(self.c_attention in ATTENTION_NAMES,
             f"c_attention {self.c_attention!r} is unknown; choose one of {sorted(ATTENTION_NAMES)}.")
        need(self.c_network in NETWORK_NAMES,
             f"c_network {self.c_network!r} is unknown; choose one of {sorted(NETWORK_NAMES)}.")
        need(self.c_tokenizer in ("char", "word", "bpe"),
             f"c_tokenizer must be 'char', 'word' or 'bpe', not {self.c_tokenizer!r}.")
        need(self.head_size % self.n_heads == 0,
             f"head_size ({self.head_size}) must be divisible by n_heads ({self.n_heads}): "
             f"each head gets head_size / n_heads channels.")
        kv = self.n_kv_heads or self.n_heads
        need(isinstance(self.n_kv_heads, int) and self.n_kv_heads >= 0 and self.n_heads % kv == 0,
             f"n_kv_heads ({self.n_kv_heads}) must divide n_heads ({self.n_heads}); 0 means n_heads.")
        need(self.c_network != "ggl" or self.n_emb % self.n_groups == 0,
             f"n_groups ({self.n_groups}) must divide n_emb ({self.n_emb}) for c_network 'ggl': "
             f"each group gets n_emb / n_groups channels.")
        need(0.0 <= self.r_dropout < 1.0, f"r_dropout must be in [0, 1), not {self.r_dropout!r}.")
        need(self.r_learn > 0, f"r_learn must be positive, not {self.r_learn!r}.")
        need(self.r_temp > 0, f"r_temp must be positive, not {self.r_temp!r}.")
        need(1e-12 <= self.r_ln_eps < 1, f"r_ln_eps must lie between 1e-12 and 1 (GPT-2's "
                                         f"is 1e-5), not {self.r_ln_eps!r}.")
        need(self.r_weight_decay >= 0, f"r_weight_decay must be >= 0, not {self.r_weight_decay!r}.")
        need(self.r_clip >= 0, f"r_clip must be >= 0 (0 = no clipping), not {self.r_clip!r}.")
        need(0.0 < self.r_split < 1.0,
             f"r_split must be between 0 and 1 (e.g. 0.9 = 90% train), not {self.r_split!r}.")
        need(self.s_warmup in ("none", "auto") or (
            isinstance(self.s_warmup, (int, float)) and not isinstance(self.s_warmup, bool)
            and 0 <= self.s_warmup < 1),
             f"s_warmup must be 'none', 'auto' or a fraction in [0, 1), not {self.s_warmup!r}.")
        need(self.c_device in ("cpu", "gpu"), f"c_device must be 'cpu' or 'gpu', not {self.c_device!r}.")
        for key in ("c_device_cpu_cores", "c_device_gpu_core", "seed"):
            value = getattr(self, key)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                 f"{key} must be a whole number of at least 0, not {value!r}.")
        need(self.d_type in ("fp16", "fp32", "fp64"),
             f"d_type must be 'fp16', 'fp32' or 'fp64', not {self.d_type!r}.")

    # ---- derived sizes ------------------------------------------------------------
    @property
    def head_dim(self):
        """Channels per attention head."""
        return self.head_size // self.n_heads

    @property
    def kv_heads(self):
        """Key/value heads (grouped-query attention shares them between query heads)."""
        return self.n_kv_heads or self.n_heads

    def warmup_steps(self, total_steps):
        """Learning-rate warm-up length for a run of `total_steps` steps."""
        if self.s_warmup == "none":
            return 0
        if self.s_warmup == "auto":  # 5% of the run, at most 1000 steps, like nanoGPT's habits
            return min(1000, max(1, math.ceil(0.05 * total_steps)))
        return math.ceil(float(self.s_warmup) * total_steps)

    # ---- JSON ---------------------------------------------------------------------
    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def keys(cls, *kinds):
        """The names of the settings of these kinds (ARCHITECTURE, TRAINING, DEVICE)."""
        return tuple(f.name for f in fields(cls) if f.metadata["kind"] in kinds)

    @classmethod
    def from_dict(cls, data, **overrides):
        """Build from a dict of settings, accepting the original project's aliases.

        Unknown keys are an error (a typo would otherwise be silently ignored).
        """
        merged = {}
        for key, value in {**data, **overrides}.items():
            key = ALIASES.get(key, key)
            merged[key] = value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {unknown}; known keys are {sorted(known)} "
                f"(older aliases: {sorted(ALIASES)})."
            )
        return cls(**merged)

    @classmethod
    def from_json(cls, path_or_text, **overrides):
        """Load from a JSON file path or a JSON string."""
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            try:
                with open(path_or_text, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise ConfigError(f"cannot read the config file {text!r}: {e.strerror or e}.") from e
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError("config JSON must be an object of settings, e.g. {\"n_layers\": 4}.")
        return cls.from_dict(data, **overrides)

    def replace(self, **changes):
        """A copy with some settings changed (validated again)."""
        return BabyConfig.from_dict({**self.to_dict(), **changes})
