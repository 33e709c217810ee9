"""Convert a model saved by the original project (its config, tokenizer and model JSON
files) into a model folder of ours: safetensors weights under our names, and a report
that says where they came from (the repo or folder, each file's name and sha256).

    little-baby convert koureasstavros/TheLittleBaby 12b8b053-6c14-42aa-a957-89b809e6f785
    little-baby convert ./TheLittleBaby 25eb8c48-ff89-4b85-8fc0-9081cc47edfc --out baby/

FOLDER_OR_REPO is a Hub repo id or a folder laid out like the original's repo:
configs/config_<guid>.json, tokenizers/tokenizer_<guid>.json, models/model_<guid>.json.
The model goes into <store>/<guid>/, where from_pretrained and every command find it by its
GUID (or into --out DIR, which loads by its path); it is written whole or not at all.
"""
from ...io.hub.fetch import convert
from ...io.store.identity import describe
from ...io.store.model_folder import read_config_and_tokenizer, read_report
from .common import add_store_argument


def add_arguments(parser):
    parser.add_argument("source", metavar="FOLDER_OR_REPO",
                        help="a Hub repo id, or a folder laid out like the original's repo")
    parser.add_argument("guid", metavar="GUID", help="the model's GUID")
    parser.add_argument("--out", metavar="DIR",
                        help="the model folder to write (must not exist; default: <store>/<guid>/)")
    add_store_argument(parser)


def run(args):
    folder = convert(args.source, args.guid, out=args.out, store=args.store)
    config, tokenizer = read_config_and_tokenizer(folder)
    report = read_report(folder)
    print(f"converted {report['guid']} ({config.c_sequence}/{config.c_attention}/"
          f"{config.c_network}, {report['n_params']:,} parameters, {tokenizer.vocab_size} "
          f"symbols): {describe(report)}")
    print(folder)
    return 0
