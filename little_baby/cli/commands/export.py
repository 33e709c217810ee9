"""Export a model for another library: today transformers' GPT-2.

    little-baby export 3f2a --format transformers --out gpt2-baby/
    little-baby export age-48-months --format transformers --out gpt2-age48/

writes config.json, generation_config.json, model.safetensors, tokenizer.json and
tokenizer_config.json into DIR (created if need be; an earlier export there is replaced
whole), which transformers loads as it is:

    AutoModelForCausalLM.from_pretrained(DIR), AutoTokenizer.from_pretrained(DIR),
    pipeline("text-generation", model=DIR)

with the model's own next-token distribution (little_baby/io/formats/gpt2.py says how). Only
pre-norm mha + mlp models with head_size == n_emb, whose lm_head bias folds into the
final LayerNorm exactly (a character vocabulary no larger than n_emb), export; anything
else is refused with what GPT-2 cannot express. Exporting needs nothing beyond this
package (numpy and safetensors write the files); running the export needs transformers
and tokenizers (pip install "little-baby[transformers]") and torch (its CPU build: pip
install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu).
"""
from ...baby import LittleBaby
from ...io.formats.gpt2 import save_transformers
from .common import add_model_arguments, find_or_fetch

FORMATS = ("transformers",)


def add_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="transformers",
                        help="what to export to (default: transformers, as GPT-2)")
    parser.add_argument("--out", metavar="DIR", required=True, help="the folder to write")


def run(args):
    baby = LittleBaby.load(find_or_fetch(args.model, args.store, args.repo))
    folder = save_transformers(baby, args.out)
    c = baby.config
    print(f"exported {baby.guid or 'the model'} as transformers' GPT-2 ({c.n_layers} layers, "
          f"n_emb {c.n_emb}, {c.n_heads} heads, n_ctx {c.n_ctx}, {baby.tokenizer.vocab_size} "
          f"{baby.tokenizer.kind} tokens, {baby.n_params:,} parameters)")
    print(folder)
    return 0
