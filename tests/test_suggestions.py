"""Every command the package suggests runs (issue 21): the `little-baby ...` and
`python -m ...` commands written in its messages, help texts and docstrings are collected
from the source (every string and f-string, a formatted value counting as a placeholder),
and each is parsed by the real command line, or its module is run with --help and must
know every option; the read-only ones are run on a tiny model. A message under the
command line names options, not Python's argument names."""
import ast
import contextlib
import io
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from little_baby import BabyConfig, CharTokenizer, LittleBaby
from little_baby.errors import TrainingInterrupted
from little_baby.cli import main
from little_baby.cli.main import COMMANDS, build_parser
from tests.little_texts import TINY, english

ROOT = Path(__file__).resolve().parent.parent
HOLE = "\x00"  # where an f-string formats a value
IN_BACKTICKS = re.compile(r"`((?:little-baby|python -m) [^`]+)`")
ON_A_LINE = re.compile(r"^\s*((?:little-baby|python -m) .*?)\s*(?:#.*)?$", re.M)
IN_BRACKETS = re.compile(  # "(... : little-baby export MODEL --out DIR)"
    r"[(:]\s*(little-baby (?:%s)\b[^()`'\"\n]*?)\s*\)" % "|".join(COMMANDS))
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*|\.\.\.|.*\x00.*)$")  # MODEL, FILE, ..., {x}


def strings(tree):
    """(text, line) of every string and f-string in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value, node.lineno
        elif isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else HOLE
                          for v in node.values), node.lineno


def suggestions():
    """{command: 'file:line'} of every command suggested in the package's source."""
    found = {}
    for path in sorted((ROOT / "little_baby").rglob("*.py")):
        for text, line in strings(ast.parse(path.read_text(encoding="utf-8"))):
            for command in [*IN_BACKTICKS.findall(text), *ON_A_LINE.findall(text),
                            *IN_BRACKETS.findall(text)]:
                command = " ".join(command.split())
                words = command.split()
                if words[0] == "little-baby" and (len(words) < 2 or words[1].endswith(":")
                                                  or HOLE in words[1]):
                    continue  # "little-baby {command}: error: ...", a message's prefix
                found.setdefault(command, f"{path.relative_to(ROOT)}:{line}")
    return found


SUGGESTED = suggestions()
LITTLE_BABY = {c: w for c, w in SUGGESTED.items() if c.startswith("little-baby ")}
MODULES = {c: w for c, w in SUGGESTED.items() if c.startswith("python -m ")}


def test_the_source_suggests_commands_of_both_kinds():
    assert len(LITTLE_BABY) > 30 and len(MODULES) > 10  # the collection works
    assert "little-baby train --resume MODEL --corpus FILE" in LITTLE_BABY
    assert "little-baby train --resume \x00" in LITTLE_BABY  # from an f-string message
    assert "little-baby finetune MODEL --corpus FILE" in LITTLE_BABY  # in brackets
    assert "little-baby export MODEL --format transformers --out DIR" in LITTLE_BABY


def filled(words, parser):
    """`words` (after `little-baby`) with each placeholder replaced by a value its option
    takes (a number for --max-iters N, a choice for a choice flag, else a name)."""
    sub = parser._subparsers._group_actions[0].choices[words[0]]
    options = {s: a for a in sub._actions for s in a.option_strings}
    out = [words[0]]
    for i, word in enumerate(words[1:], 1):
        if not PLACEHOLDER.match(word):
            out.append(word)
            continue
        action = options.get(words[i - 1])
        if action is not None and action.nargs == 0:
            action = None  # a flag before a positional placeholder
        if action is None and (word == "..." or HOLE in word and i == len(words) - 1 > 1):
            continue  # "little-baby train ...", "--corpus FILE {flags}": the rest elided
        if action is not None and action.choices:
            out.append(str(list(action.choices)[0]))
        elif action is not None and action.type in (int, float):
            out.append("1")
        else:
            out.append("placeholder")
    return out


@pytest.mark.parametrize("command", sorted(LITTLE_BABY))
def test_every_suggested_little_baby_command_parses(command):
    words = shlex.split(command.replace(HOLE, "X" + HOLE))[1:]
    words = [w.replace("X" + HOLE, HOLE) for w in words]
    assert words[0] in COMMANDS, f"{LITTLE_BABY[command]} suggests an unknown command: {command}"
    parser = build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parser.parse_args(filled(words, parser))
        except SystemExit as e:
            pytest.fail(f"{LITTLE_BABY[command]} suggests `{command}`, which the command "
                        f"line refuses (exit {e.code}): {err.getvalue().strip()}")


def modules():
    """{module: (options its suggestions use, where)}."""
    found = {}
    for command, where in MODULES.items():
        words = command.replace(HOLE, "X").split()
        options, _ = found.setdefault(words[2], (set(), where))
        options.update(w.split("=")[0] for w in words[3:] if w.startswith("--"))
    return found


@pytest.mark.parametrize("module", sorted(modules()))
def test_every_suggested_module_runs_and_knows_its_options(module):
    options, where = modules()[module]
    r = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, f"{where} suggests `python -m {module}`, which fails: {r.stderr}"
    unknown = sorted(o for o in options if o not in r.stdout)
    assert not unknown, f"{where}: `python -m {module}` has no option {unknown}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(cache, folder, corpus) of a tiny trained model and the text it was trained on."""
    cache = tmp_path_factory.mktemp("suggested") / "cache"
    text = english() + "ROMEO: The baby sat by the window.\n" * 3  # the examples' prompt
    corpus = cache.parent / "text.txt"
    corpus.write_text(text, encoding="utf-8")
    baby = LittleBaby.train_new(TINY, corpus, max_iters=5, store=cache, quiet=True)
    return cache, cache / baby.guid, corpus


def stopped_run(cache, corpus):
    """The folder of a tiny run stopped by Ctrl-C at step 3 of 20 (a checkpoint to resume)."""
    baby = LittleBaby(BabyConfig(**TINY), CharTokenizer.from_text(corpus.read_text()))
    real, calls = baby.loss_and_grads, []

    def with_ctrl_c(x, y, **kw):
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)
        return real(x, y, **kw)

    baby.loss_and_grads = with_ctrl_c
    with pytest.raises(TrainingInterrupted):
        baby.fit(corpus, max_iters=20, store=cache, quiet=True)
    return cache / baby.guid


# what runs in a moment on a tiny model; `train --corpus` and the rest are parsed above
CHEAP = ("info", "list", "generate", "finetune", "train --resume")
MODEL_NAMES = re.compile(r"^(?:[0-9a-f]{4}.*|GUID|MODEL|AGE|age-\d+-months|placeholder|\x00)$")
FILES = re.compile(r"^(?:FILE|.*\.txt)$")


def cheap(command):
    return any(command.startswith(f"little-baby {c}") for c in CHEAP)


@pytest.mark.parametrize("command", sorted(c for c in LITTLE_BABY if cheap(c)))
def test_every_suggested_command_that_runs_cheaply_runs_on_a_tiny_model(command, tiny, capsys,
                                                                         tmp_path):
    cache, folder, corpus = tiny
    words = shlex.split(command.replace(HOLE, "MODEL"))[1:]
    if "--repo" in words or any("/" in w and not w.startswith(("/", "--")) for w in words):
        pytest.skip(f"the Hub: {command}")
    model = stopped_run(cache, corpus) if "--resume" in words else folder
    words = [str(corpus) if FILES.match(w) else str(model) if MODEL_NAMES.match(w) else w
             for w in words]
    words = [str(model) if w == "placeholder" else w for w in filled(words, build_parser())]
    if "--store" in words:
        words[words.index("--store") + 1] = str(cache)
    else:
        words += ["--store", str(cache)]
    if words[0] == "generate":
        words += ["--max-tokens", "5"]
    if words[0] == "finetune":  # a new folder of its own, a short run
        words += ["--out", str(tmp_path / "child"), "--quiet", "--generate-tokens", "0"]
        if "--max-iters" in words:
            words[words.index("--max-iters") + 1] = "10"
        elif str(folder) in words:
            words += ["--n-epochs", "1"]
        else:  # the packaged model (16 layers): one step
            words += ["--max-iters", "1", "--eval-iters", "1", "--batch-size", "1"]
    if words[0] == "train" and "--corpus" in words:
        words += ["--quiet", "--generate-tokens", "0"]
    code = main(words)
    err = capsys.readouterr().err
    assert code == 0, f"{LITTLE_BABY[command]} suggests `{command}`, which fails: {err}"


def test_a_command_line_error_names_options_and_python_names_arguments(tiny, capsys):
    """The same mistakes, made on the command line and in Python, are told in each one's
    words."""
    cache, folder, _ = tiny
    code = main(["generate", str(folder), "--prompt", "Ωμέγα", "--store", str(cache)])
    err = capsys.readouterr().err
    assert code == 2 and "--drop-unknown" in err and "unknown=" not in err
    with pytest.raises(ValueError, match="unknown='drop'"):
        LittleBaby.load(folder).generate("Ωμέγα")
    short = folder.parent / "short.txt"
    short.write_text("tiny text\n" * 2, encoding="utf-8")
    code = main(["finetune", str(folder), "--corpus", str(short), "--out",
                 str(folder.parent / "child"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "n_ctx + 1 = 9 tokens (the model's n_ctx)" in err
    assert "smaller" not in err and "--r-split" in err  # n_ctx is the parent's: not suggested
    code = main(["train", "--corpus", str(short), "--out", str(folder.parent / "new"),
                 *[f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()], "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "a smaller --n-ctx, or another --r-split" in err
    with pytest.raises(ValueError, match="a smaller n_ctx, or another r_split"):
        LittleBaby.train_new(TINY, short, out=folder.parent / "new", quiet=True)
    code = main(["finetune", "someone/baby", "--corpus", str(short), "--store", str(cache)])
    err = capsys.readouterr().err
    # a repo id is fetched, as generate fetches it: offline, the command to fetch it first
    assert code == 2 and "`little-baby info someone/baby`" in err
    assert "from_pretrained" not in err
    with pytest.raises(LookupError, match=r"LittleBaby.from_pretrained\('someone/baby'\)"):
        LittleBaby.load("someone/baby", store=cache)


def test_choice_flags_list_their_choices_and_the_device_has_one_spelling(capsys):
    for command in ("train", "finetune", "generate", "bench"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert not re.search(r"--c-device(?![-\w])", text)  # --device only
        assert command == "bench" or "--device {cpu,gpu}" in text
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag, choices in (("--c-attention", "{mha,moh,gqa,swh,gla,rfa,aft}"),
                          ("--c-network", "{mlp,moe,lor,swi,gln,ggl,nft}"),
                          ("--c-sequence", "{pre,post}"), ("--d-type", "{fp16,fp32,fp64}")):
        assert f"{flag} {choices}" in text
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "--attention {mha,moh,gqa,swh,gla,rfa,aft}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["train", "--c-device", "gpu"])
    assert e.value.code == 2 and "error:" in capsys.readouterr().err  # no --c-device


def test_every_choice_the_command_line_offers_is_one_the_config_takes():
    from little_baby.cli.commands.common import CHOICES
    from little_baby.config import BabyConfig, VALUE_ALIASES
    from little_baby.errors import ConfigError
    for key, names in CHOICES.items():
        for name in [*names, *VALUE_ALIASES.get(key, {})]:
            BabyConfig(**{key: name})
        with pytest.raises(ConfigError):
            BabyConfig(**{key: "no-such-choice"})


def test_every_extra_a_message_asks_to_install_exists():
    """`pip install 'little-baby[plot]'` and the like name extras pyproject.toml defines."""
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project.get("optional-dependencies", {}))
    asked = {}
    for path in sorted((ROOT / "little_baby").rglob("*.py")):
        for text, line in strings(ast.parse(path.read_text(encoding="utf-8"))):
            for names in re.findall(r"pip install [^\n]*?(?:little-baby|\B\.)\[([a-z0-9_,-]+)\]",
                                    text):
                for name in names.split(","):
                    asked.setdefault(name, f"{path.relative_to(ROOT)}:{line}")
    assert "plot" in asked  # the collection works
    missing = {name: where for name, where in asked.items() if name not in extras}
    assert not missing, f"messages ask to install extras pyproject.toml lacks: {missing}"


def test_the_setting_that_changes_nothing_says_so(capsys):
    """c_device_gpu_tensor is the original's, kept so its config files load (config.py)."""
    for command in ("train", "finetune"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--c-device-gpu-tensor N changes nothing: recorded, and kept only so" in text
