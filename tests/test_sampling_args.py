"""Sampling settings are checked in one place (engine/sampling.check_settings), the same
way in Python (generate, stream) and on the command line (before anything is loaded or
printed), with one set of defaults: one seed gives one text both ways."""
import argparse
import inspect
import math

import numpy as np
import pytest

from little_baby import LittleBaby
from little_baby.cli import main
from little_baby.cli.commands import generate as generate_command
from little_baby.engine.sampling import DEFAULTS, check_settings
from little_baby.errors import GenerationError
from tests.gradcheck import tiny_baby

BAD_PYTHON = [  # (keyword, value, what the message says)
    ("max_new_tokens", -5, "max_new_tokens must be a whole number >= 0, not -5"),
    ("max_new_tokens", 2.5, "max_new_tokens must be a whole number >= 0, not 2.5"),
    ("max_new_tokens", True, "not True"),
    ("max_new_tokens", "10", "not '10'"),
    ("max_new_tokens", None, "not None"),
    ("temperature", -0.1, "temperature must be a finite number >= 0 (0 is greedy), not -0.1"),
    ("temperature", math.nan, "not nan"),
    ("temperature", math.inf, "not inf"),
    ("temperature", "hot", "not 'hot'"),
    ("temperature", True, "not True"),
    ("top_k", 0, "top_k must be a whole number >= 1 (None: off), not 0"),
    ("top_k", -3, "not -3"),
    ("top_k", 2.5, "top_k must be a whole number >= 1 (None: off), not 2.5"),
    ("top_k", True, "not True"),
    ("top_p", 0, "top_p must be a number in (0, 1] (None: off), not 0"),
    ("top_p", -0.5, "not -0.5"),
    ("top_p", 1.5, "not 1.5"),
    ("top_p", math.nan, "not nan"),
    ("top_p", "0.9", "not '0.9'"),
    ("seed", -1, "seed must be a whole number >= 0 (None: a fresh draw), not -1"),
    ("seed", 1.5, "not 1.5"),
    ("seed", False, "not False"),
]


@pytest.fixture(scope="module")
def baby():
    return tiny_baby()[0]


@pytest.mark.parametrize("key, value, message", BAD_PYTHON,
                         ids=[f"{k}={v!r}" for k, v, _ in BAD_PYTHON])
def test_python_refuses_each_bad_setting_before_making_anything(baby, key, value, message):
    with pytest.raises(GenerationError) as e:
        baby.generate("abc", **{key: value})
    assert message in str(e.value)
    with pytest.raises(GenerationError, match="must be"):
        baby.stream("abc", **{key: value})  # at the call, not at the first piece


def test_the_edges_of_the_ranges_are_taken(baby):
    assert baby.generate("abc", max_new_tokens=0) == ""
    greedy = baby.generate("abc", max_new_tokens=12, temperature=0)
    assert baby.generate("abc", max_new_tokens=12, temperature=0.8, top_k=1, seed=4) == greedy
    assert baby.generate("abc", max_new_tokens=12, top_p=1e-9, seed=4) == greedy  # the likeliest
    assert baby.generate("abc", max_new_tokens=12, top_p=1, seed=4) == \
        baby.generate("abc", max_new_tokens=12, top_p=None, seed=4)  # 1 keeps all
    assert baby.generate("abc", max_new_tokens=12, top_k=999, seed=4) == \
        baby.generate("abc", max_new_tokens=12, top_k=None, seed=4)  # more than the vocabulary
    assert baby.generate("abc", max_new_tokens=np.int64(5), top_k=np.int32(3), temperature=1,
                         seed=np.uint8(2)) == baby.generate("abc", max_new_tokens=5, top_k=3,
                                                            temperature=1.0, seed=2)


def test_one_set_of_defaults(baby):
    assert DEFAULTS == (200, 0.8, 40, None, None)
    for method in (LittleBaby.generate, LittleBaby.stream):
        params = inspect.signature(method).parameters
        assert {k: params[k].default for k in DEFAULTS._fields} == DEFAULTS._asdict()
    parser = argparse.ArgumentParser()  # the command's options, with nothing given
    generate_command.add_arguments(parser)
    assert generate_command.checked_settings(parser.parse_args([])) == DEFAULTS
    assert check_settings() == DEFAULTS


def test_one_seed_gives_one_text_in_python_and_on_the_command_line(baby, tmp_path, capsys):
    folder = baby.save(tmp_path / "model")
    for flags, keywords in [([], {}), (["--temperature", "0.5", "--top-k", "0", "--top-p", "0.9"],
                                       {"temperature": 0.5, "top_k": None, "top_p": 0.9})]:
        assert main(["generate", str(folder), "--prompt", "abc", "--seed", "11", *flags]) == 0
        printed = capsys.readouterr().out
        assert printed == "abc" + baby.generate("abc", seed=11, **keywords) + "\n"
        assert len(printed) == len("abc") + DEFAULTS.max_new_tokens + 1


BAD_CLI = [  # (flags, what the one line says)
    (["--max-tokens", "-5"], "--max-tokens must be a whole number >= 0, not -5"),
    (["--max-tokens", "2.5"], "--max-tokens must be a whole number >= 0, not 2.5"),
    (["--max-tokens", "lots"], "--max-tokens must be a whole number >= 0, not 'lots'"),
    (["--temperature", "nan"], "--temperature must be a finite number >= 0 (0 is greedy), not nan"),
    (["--temperature", "-1"], "--temperature must be a finite number >= 0"),
    (["--temperature", "inf"], "not inf"),
    (["--top-k", "-3"], "--top-k must be a whole number >= 1 (0: off), not -3"),
    (["--top-k", "2.5"], "--top-k must be a whole number >= 1 (0: off), not 2.5"),
    (["--top-p", "1.5"], "--top-p must be a number in (0, 1] (leave it out: off), not 1.5"),
    (["--top-p", "0"], "--top-p must be a number in (0, 1]"),
    (["--top-p", "-0.5"], "not -0.5"),
    (["--seed", "-1"], "--seed must be a whole number >= 0 (leave it out: a fresh draw), not -1"),
    (["--seed", "x"], "not 'x'"),
]


@pytest.mark.parametrize("flags, message", BAD_CLI, ids=[" ".join(f) for f, _ in BAD_CLI])
def test_the_command_refuses_a_bad_value_in_one_line_before_anything(tmp_path, capsys, flags,
                                                                     message):
    missing = tmp_path / "no-such-model"  # checked before the model is even looked for
    code = main(["generate", str(missing), "--prompt", "ROMEO:", *flags])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")  # the prompt was not printed
    assert err.startswith("little-baby generate: error: ") and err.count("\n") == 1, err
    assert message in err


def test_the_values_that_mean_off_are_said_once(monkeypatch):
    """engine/sampling.py's OFF: top_k 0, top_p 1 and seed -1 are None; a bool is no number.
    The generate command turns --top-k off through OFF, never with a 0 of its own: were
    OFF's value another, its settings, its message and its help would follow."""
    from little_baby.engine.sampling import OFF, none_if_off
    assert [none_if_off(k, v) for k, v in OFF.items()] == [None, None, None]
    assert none_if_off("top_p", 1.0) is None and none_if_off("top_k", False) is False
    assert [none_if_off("top_k", 5), none_if_off("top_p", 0.9), none_if_off("seed", 0)] == [5, 0.9, 0]
    monkeypatch.setitem(OFF, "top_k", 7)
    parser = argparse.ArgumentParser()
    generate_command.add_arguments(parser)
    assert generate_command.checked_settings(parser.parse_args(["--top-k", "7"])).top_k is None
    assert generate_command.checked_settings(parser.parse_args(["--top-k", "3"])).top_k == 3
    with pytest.raises(GenerationError, match=r"--top-k must be a whole number >= 1 \(7: off\)"):
        generate_command.checked_settings(parser.parse_args(["--top-k", "0"]))
    assert "7: off" in " ".join(parser.format_help().split())
