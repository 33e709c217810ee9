"""`LittleBaby`: a model with its config and tokenizer — the object users hold."""
from .config import BabyConfig
from .engine.backend import Backend
from .engine.ops import cross_entropy_forward
from .engine.optim import flatten_params
from .engine.parallel import sharded_loss_and_grads
from .engine.runtime import Runtime
from .engine.sampling import DEFAULTS, check_settings, generate_ids
from .engine.transformer import Transformer, check_shapes, init_params, param_shapes
from .errors import BabyError, ConfigError, WeightsError
from .io.formats import gpt2, gpt2_checkpoint
from .io.hub import fetch, publish
from .io.store.identity import found_at, identify
from .io.store.model_folder import is_gpt2_folder, read_model, save_model
from .io.store.places import one_store
from .io.store.resolve import find_model
from .tokenizer import tokenizer_for_text, tokenizer_from_dict
from .training import run
from .training.data import char_cut, load_corpus
from .training.resources import check_model_fits
from .training.trainer import check_trainable


class LittleBaby:
    """A small GPT: config + tokenizer + weights, with training and generation helpers.

    >>> baby = LittleBaby(BabyConfig(n_layers=2), CharTokenizer.from_text(text))
    >>> baby.generate("ROMEO:", max_new_tokens=100, seed=1)
    """

    def __init__(self, config=None, tokenizer=None, params=None, guid=None, parent_guid=None):
        if tokenizer is None:
            raise BabyError("LittleBaby needs a tokenizer, e.g. CharTokenizer.from_text(text).")
        self.config = config if config is not None else BabyConfig()
        if tokenizer.kind != self.config.c_tokenizer:
            raise ConfigError(
                f"the config says c_tokenizer={self.config.c_tokenizer!r} but the tokenizer is "
                f"a {tokenizer.kind!r} tokenizer: set c_tokenizer={tokenizer.kind!r} in the config "
                f"or pass a {self.config.c_tokenizer!r} tokenizer.")
        self.tokenizer = tokenizer_from_dict(tokenizer.to_dict())  # our own: finetuning grows it
        self.backend = Backend(self.config.c_device, self.config.d_type,
                               self.config.c_device_gpu_core, self.config.c_device_cpu_cores)
        self.train_rng = self.backend.rng(self.config.seed + 1)  # dropout draws
        # who it is and where it lives: io/store/identity.py sets these
        self.guid = guid  # the model's GUID (its folder's name in the store), once it has one
        self.parent_guid = parent_guid  # the model it was finetuned from
        self.report = {}  # its identity and training figures, saved as report.json
        self.source = None  # where it was read from or trained into: {guid, folder, repo_id}
        self.weights_dtype = None  # the float type its weights file holds (load sets it)
        if params is None:
            check_model_fits(self.config, tokenizer.vocab_size, self.backend.device)
            params = init_params(self.config, tokenizer.vocab_size,
                                 Runtime(self.backend, rng=self.backend.rng(self.config.seed)))
        self.params = params

    # ---- parameters -------------------------------------------------------------------------
    @property
    def params(self):
        """dict: safetensors key -> array (views into one flat buffer, `self.flat`)."""
        return self._params

    @params.setter
    def params(self, params):
        expected = param_shapes(self.config, self.tokenizer.vocab_size)
        check_shapes(params, expected)
        held = self.backend.weights_dtype
        arrays = {k: self.backend.asarray(params[k], held) for k in expected}
        for key in expected:  # narrowed to float16: a weight over 65,504 would become inf
            if params[key].dtype.itemsize > held.itemsize and \
                    not self.backend.xp.isfinite(arrays[key]).all():
                raise WeightsError(f"weight {key!r} holds values beyond float16's range "
                                   f"(65,504): it cannot be held in float16; load it in fp32.")
        self.flat, self._params = flatten_params(arrays)
        self.transformer = Transformer(self.config, self._params)

    @property
    def n_params(self):
        return int(self.flat.size)

    # ---- training -----------------------------------------------------------------------------
    def loss_and_grads(self, x, y, out=None, keep=None):
        """Loss (float) and gradients (dict with the keys of params) for inputs x and
        targets y, int arrays (B, T); dropout is on (r_dropout), as in training. On the
        CPU the batch runs in one shard per core (engine/parallel.py), whose gradients
        are added up into `out` (arrays by key, such as the optimizer's) when given;
        `keep` is a dict of arrays the shards reuse from call to call (a trainer's).
        Not for d_type fp16 (training.trainer.check_trainable)."""
        check_trainable(self.config)
        return sharded_loss_and_grads(self.transformer, self.backend, self._ids(x),
                                      self._ids(y), self.train_rng, self.config.r_dropout,
                                      out, keep)

    def loss(self, x, y):
        """Loss without dropout and without gradients (evaluation)."""
        logits = self.logits(x)
        B, T, V = logits.shape
        loss, _ = cross_entropy_forward(logits.reshape(B * T, V), self._ids(y).reshape(-1))
        return float(self.backend.to_numpy(loss))  # explicit: the one transfer to the host

    def fit(self, corpus, max_iters=None, n_epochs=None, eval_interval=None, eval_iters=10,
            checkpoint_interval=None, out=None, store=None, quiet=False, guid=None, keep=None,
            weights_dtype=None, cache=None):
        """Train on `corpus` (a text file's path, the text itself, or the Corpus that
        training.data.load_corpus read) and save the result as a new model: a new GUID
        (`guid`, else a fresh one), the previous one recorded as its parent, in `out` or
        <store>/<guid>/ (`store`: the model store, io/store/places.py; `cache` is its older
        name). Symbols the vocabulary lacks are added first (expand_vocab).

        max_iters steps of random windows, or n_epochs (default: the config's) epochs of
        shuffled stride-n_ctx windows; train/validation loss on fixed samples every
        eval_interval steps; checkpoints every checkpoint_interval steps and on Ctrl-C.
        keep="best" keeps the weights of the evaluation with the lowest validation loss,
        keep="last" those of the last step; weights_dtype ("float16", "float32") is the
        saved weights' float type. Their defaults: for a finetune (a model trained or
        loaded) "best" and the parent's float type, for a new model "last" and float32.
        A finetune trains at the config's r_learn: load the model with r_learn=... to
        change it (the finetune command uses 3e-4 unless told).
        Returns the report (also self.report, saved as report.json).
        """
        plan = run.Plan(max_iters, n_epochs, eval_interval, eval_iters, checkpoint_interval,
                        keep, weights_dtype)
        return run.fit(self, corpus, plan, out, one_store(store, cache), quiet, guid)

    @classmethod
    def train_new(cls, config, corpus, vocab_size=None, **fit_args):
        """A fresh model (config: BabyConfig or dict) with a vocabulary built from
        `corpus`, trained on it by `fit(corpus, **fit_args)`. c_tokenizer 'bpe' learns
        merges from the training part of the text (the first r_split of it) until the
        vocabulary holds `vocab_size` tokens (default 1024)."""
        if not isinstance(config, BabyConfig):
            config = BabyConfig.from_dict(config or {})
        corpus = load_corpus(corpus)  # read once: fit takes it as it is
        text = corpus.text
        if config.c_tokenizer == "bpe":  # the held-out text stays unseen
            text = text[:char_cut(text, config.r_split)]
        baby = cls(config, tokenizer_for_text(config.c_tokenizer, text, vocab_size))
        baby.fit(corpus, **fit_args)
        return baby

    @classmethod
    def resume(cls, name, store=None, corpus=None, quiet=False, cache=None):
        """Continue the stopped training run of model folder or GUID (or unique start of
        one) `name` in the model `store` (`cache`: its older name) from its last
        checkpoint, exactly as if it had not stopped; returns the trained model."""
        return run.resume(cls, name, one_store(store, cache), corpus, quiet)

    def expand_vocab(self, text):
        """Add the symbols of `text` the tokenizer lacks, after the existing ones (whose
        ids and weights stay as they are). Their embedding rows and lm_head columns start
        as N(0, 0.02) draws, their lm_head biases at 0. Returns the new symbols."""
        n_old = self.tokenizer.vocab_size
        new = self.tokenizer.expand(text)
        if new:
            xp, p, C, n = self.backend.xp, self.params, self.config.n_emb, len(new)
            rt = Runtime(self.backend, rng=self.backend.rng(self.config.seed + n_old))
            zeros = xp.zeros(n, self.backend.dtype)
            grown = {**p, "wte.weight": xp.concatenate([p["wte.weight"], rt.normal((n, C), 0.02)])}
            if not self.config.c_tie:  # tied: the new wte rows are the head's new columns
                grown.update({
                    "lm_head.weight": xp.concatenate([p["lm_head.weight"], rt.normal((C, n), 0.02)], 1),
                    "lm_head.bias": xp.concatenate([p["lm_head.bias"], zeros])})
            self.params = grown
        return new

    # ---- inference ----------------------------------------------------------------------------
    def logits(self, x, return_attention=False):
        """Logits (B, T, vocab) for token ids x (B, T), dropout off.

        With return_attention=True also a list with each layer's attention weights
        (B, n_heads, T, T), for variants that have them.
        """
        rt = Runtime(self.backend, keep_attention=return_attention)
        logits, _ = self.transformer.forward(self._ids(x), rt)
        return (logits, rt.attention) if return_attention else logits

    def stream(self, prompt="", max_new_tokens=DEFAULTS.max_new_tokens,
               temperature=DEFAULTS.temperature, top_k=DEFAULTS.top_k, top_p=DEFAULTS.top_p,
               seed=DEFAULTS.seed, use_cache=True, unknown="error"):
        """An iterator over the generated text, piece by piece (one token each) as it is
        made. The settings and the prompt are checked now, before any piece is made."""
        settings = check_settings(max_new_tokens, temperature, top_k, top_p, seed)
        ids = list(self.tokenizer.encode(prompt, unknown=unknown)) or [self._start_id()]
        return self._pieces(ids, settings, use_cache)

    def _pieces(self, ids, settings, use_cache):
        yield from self.tokenizer.decode_stream(
            generate_ids(self.transformer, self.backend, ids, *settings, use_cache))

    def generate(self, prompt="", max_new_tokens=DEFAULTS.max_new_tokens,
                 temperature=DEFAULTS.temperature, top_k=DEFAULTS.top_k, top_p=DEFAULTS.top_p,
                 seed=DEFAULTS.seed, use_cache=True, unknown="error"):
        """The text that follows `prompt` (without the prompt itself).

        max_new_tokens a whole number >= 0; temperature a finite number >= 0, 0 greedy;
        top_k None (off) or >= 1 and top_p None (off) or in (0, 1] narrow the choice;
        `seed` (None or >= 0) makes it repeatable (engine/sampling.py checks them all).
        An empty prompt starts from a newline (or the first symbol).
        """
        return "".join(self.stream(prompt, max_new_tokens, temperature, top_k, top_p, seed,
                                   use_cache, unknown))

    # ---- files ------------------------------------------------------------------------------
    def save(self, folder):
        """Write config.json, tokenizer.json, model.safetensors and report.json to `folder`.
        The weights are stored in `weights_dtype` (the type of the file they were loaded
        from: float16 for the age models; None: float32): set it to change that."""
        return save_model(self, folder, self.weights_dtype)

    @classmethod
    def load(cls, name, store=None, cache=None, **config_overrides):
        """Load a model on this machine: a folder written by `save`, or a GUID (a unique
        start of one), an age, in the model store (`store`; `cache` is its older name) or
        shipped with the package (io/store/resolve.py; from_pretrained also fetches from
        the Hub), or a GPT-2 folder as transformers writes it (from_gpt2).
        `config_overrides` (e.g. c_device='gpu') change settings that keep the weights'
        shapes. Its `source` says where it was read from (io/store/identity.py)."""
        folder = find_model(name, one_store(store, cache))
        if is_gpt2_folder(folder):  # transformers' GPT-2 files, read without torch
            return cls.from_gpt2(folder, **config_overrides)
        parts = read_model(folder, **config_overrides)
        baby = identify(cls(parts.config, parts.tokenizer, params=parts.params), parts.report)
        floats = [a.dtype for a in parts.params.values() if a.dtype.kind == "f"]
        held = baby.backend.weights_dtype  # narrower when loaded to be held in float16
        widest = max(floats, key=lambda d: d.itemsize) if floats else None
        baby.weights_dtype = (min(widest, held, key=lambda d: d.itemsize).name
                              if widest is not None else None)
        return found_at(baby, folder)

    # ---- the Hugging Face Hub -----------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name, repo=None, revision=None, token=None, store=None,
                        cache_dir=None, force_download=False, local_files_only=False,
                        cache=None, **config_overrides):
        """A model by GUID (or a unique start of one, 4+ characters, any case), age
        ('age-48-months'), folder path or Hub repo id (owner/name): io/store/resolve.py.

        A GUID is looked for in <store>/<guid>/ (`store`: the model store; `cache` is its
        older name), then among the age models shipped with the package, then in the Hub
        cache (`cache_dir`, huggingface_hub's), then in the Hub repo `repo` (default
        $LITTLE_BABY_REPO, else koureasstavros/TheLittleBaby; a local folder laid out like
        a repo also works), in our layout or the original project's (converted once into
        <store>/<guid>/).
        Offline (HF_HUB_OFFLINE=1 or local_files_only=True) only what is on this machine
        loads. `revision`, `token`, `force_download` as for huggingface_hub.
        """
        return fetch.from_pretrained(cls, name, repo=repo, revision=revision, token=token,
                                     store=one_store(store, cache), cache_dir=cache_dir,
                                     force_download=force_download,
                                     local_files_only=local_files_only, **config_overrides)

    def save_pretrained(self, save_directory, metadata=None):
        """Write the model folder with its model card (README.md); returns its Path.
        `metadata`: more YAML fields for the card, e.g. {"datasets": [...]}."""
        return publish.save_pretrained(self, save_directory, metadata=metadata)

    def push_to_hub(self, repo_id, token=None, private=None, commit_message=None, branch=None,
                    create_pr=False, metadata=None):
        """Upload the model folder and its card to the root of Hub repo `repo_id` (created
        if need be) in one commit; returns the commit URL. A failure is a HubError; the
        local model is untouched and pushing again retries."""
        return publish.push_to_hub(self, repo_id, token=token, private=private,
                               commit_message=commit_message, branch=branch,
                               create_pr=create_pr, metadata=metadata)

    # ---- transformers (GPT-2) ----------------------------------------------------------------
    def to_transformers(self):
        """(transformers' GPT2LMHeadModel, PreTrainedTokenizerFast) giving this model's
        logits and tokens; models GPT-2 cannot express are refused (io/formats/gpt2.py)."""
        return gpt2.to_transformers(self)

    @classmethod
    def from_transformers(cls, model_or_folder, tokenizer=None):
        """A model from a GPT-2 (a GPT2LMHeadModel and its tokenizer, or the folder
        save_pretrained wrote): its weights, positions and vocabulary (io/formats/gpt2.py)."""
        return gpt2.from_transformers(cls, model_or_folder, tokenizer)

    @classmethod
    def from_gpt2(cls, folder, **config_overrides):
        """A GPT-2 from the folder transformers' save_pretrained writes (or a Hub repo's
        files): config.json, model.safetensors and its byte-level BPE, read with numpy
        and safetensors alone, no torch (io/formats/gpt2_checkpoint.py). `config_overrides`
        (d_type='fp64' ...) as for load."""
        return gpt2_checkpoint.from_gpt2_folder(cls, folder, **config_overrides)

    # ---- helpers ----------------------------------------------------------------------------
    def _ids(self, x):
        return self.backend.asarray(x, dtype=self.backend.xp.int64)

    def _start_id(self):
        newline = self.tokenizer.encode("\n", unknown="drop")
        return int(newline[0]) if len(newline) == 1 else 0

    def __repr__(self):
        c = self.config
        return (f"LittleBaby({c.c_attention}/{c.c_network}, {c.n_layers} layers, n_emb {c.n_emb}, "
                f"n_ctx {c.n_ctx}, vocab {self.tokenizer.vocab_size}, {self.n_params:,} params)")
