"""The real openai-community/gpt2, opt-in (LITTLE_BABY_ONLINE_TESTS=1: it downloads about
550 MB, kept in Hugging Face's cache for the next run): LittleBaby.from_pretrained fetches
it, and its tokenizer's ids, its logits (float32 and float64) and its greedy text equal
transformers' GPT2LMHeadModel's, read from the very same files. Skipped, saying why,
without the opt-in, torch or transformers, or where the Hub cannot be reached."""
import os

import numpy as np
import pytest

from little_baby import LittleBaby
from little_baby.errors import HubError

REPO = "openai-community/gpt2"
OPT_IN = "LITTLE_BABY_ONLINE_TESTS"
pytestmark = pytest.mark.skipif(not os.environ.get(OPT_IN), reason=(
    f"downloads {REPO} (about 550 MB): set {OPT_IN}=1 to run it"))
torch = pytest.importorskip("torch", reason="torch is not installed (the oracle, GPT2LMHeadModel)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

TEXT = ("Hello, world! It's GPT-2 in NumPy; they'll see 🎉 and Ισμήνη.\n"
        "def f(x):\n    return x ** 2  # 1234 5678\n\n\n   spaces   and\ttabs")
PROMPT = "The meaning of life is"


@pytest.fixture(scope="module")
def real():
    """(ours in float32, the folder it came from, transformers' fast tokenizer)."""
    try:
        baby = LittleBaby.from_pretrained(REPO)
    except HubError as e:  # offline, or the Hub failed: nothing to compare
        pytest.skip(f"{REPO} could not be fetched (offline?): {e}")
    folder = str(baby.source["folder"])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(folder, "tokenizer.json"), eos_token="<|endoftext|>")
    return baby, folder, tokenizer


def their_model(folder, dtype):
    return transformers.GPT2LMHeadModel.from_pretrained(folder, dtype=dtype).eval()


def test_the_tokenizer_gives_transformers_ids(real):
    baby, _, tokenizer = real
    assert list(baby.tokenizer.encode(TEXT)) == tokenizer.encode(TEXT)
    assert baby.tokenizer.decode(tokenizer.encode(TEXT)) == TEXT


@pytest.mark.parametrize("dtype, atol", [("fp32", 1e-2), ("fp64", 1e-8)])
def test_logits_equal_transformers(real, dtype, atol):
    """GPT-2's logits are about 100 in size and some of its activations thousands: two
    float32 computations differ by float32's rounding of those (float64: the maths)."""
    baby, folder, tokenizer = real
    ours = baby if dtype == "fp32" else LittleBaby.from_pretrained(folder, d_type="fp64")
    torch_dtype = torch.float32 if dtype == "fp32" else torch.float64
    ids = tokenizer.encode(TEXT)
    with torch.no_grad():
        theirs = their_model(folder, torch_dtype)(torch.tensor([ids])).logits[0].numpy()
    np.testing.assert_allclose(np.asarray(ours.logits(np.array([ids])))[0], theirs,
                               atol=atol, rtol=0)


def test_greedy_text_equals_transformers(real):
    """In float64, where no two logits tie by rounding."""
    _, folder, tokenizer = real
    ours = LittleBaby.from_pretrained(folder, d_type="fp64")
    ids = tokenizer.encode(PROMPT)
    with torch.no_grad():
        theirs = their_model(folder, torch.float64).generate(
            torch.tensor([ids]), max_new_tokens=30, do_sample=False,
            pad_token_id=tokenizer.eos_token_id)[0, len(ids):].tolist()
    assert ours.generate(PROMPT, max_new_tokens=30, temperature=0) == tokenizer.decode(theirs)
