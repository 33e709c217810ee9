"""First lesson: a tiny network learns to add, and answers 4+4 without ever seeing it.

Before the transformer, the smallest thing that still deserves the name "language model":
it reads a few tokens and predicts the next one. The text it learns is sums such as
`1+2=3`; one sum (`4+4`) is kept out of its training data, and after training it is
asked `4+4=` anyway. If it answers `8`, it has learnt something about adding rather
than a table of the sums it saw.

Read this file top to bottom; each step is a few short functions:

    1. the vocabulary: characters <-> token ids
    2. the equations: every sum a+b, minus the held-out ones
    3. the training pairs: (context, next token)
    4. the hyperparameters
    5. the weights: embedding -> hidden -> logits
    6. the forward pass, the backward pass and the training loop
    7. asking the model: answers, their probabilities, the accuracy
    8. looking inside: the digits' vectors lie on a number line

`little-baby arithmetic` runs it all and prints what the model answers.

The same data and held-out set go through the GPT engine in `arithmetic_gpt.py`.

Shapes in the comments: N pairs, T context tokens, E embedding_dim, H hidden_dim,
V vocabulary size (13).
"""
import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ..errors import BabyError
from ..engine.ops import (cross_entropy_backward, cross_entropy_forward, linear_backward,
                   linear_forward, softmax_forward as softmax)


class SumError(BabyError, ValueError):
    """An equation to hold out that is not a sum this lesson can write."""


# ---- Step 1: the vocabulary -----------------------------------------------------------------
# Every character the sums use, and its token id (its position in the list). The inverse
# maps an id back to its character, so the model's answers can be read.
VOCAB = [" ", "+", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "="]
TOKEN_ID = {ch: i for i, ch in enumerate(VOCAB)}  # character -> id:  "+" -> 1, "1" -> 3
CHARACTER = {i: ch for ch, i in TOKEN_ID.items()}  # id -> character (the inverse)
BLANK = " "  # an empty slot in a context; as the next token: "the answer is complete"


def encode(text):
    """'1+1=2 ' -> array([3, 1, 3, 12, 4, 0])"""
    return np.array([TOKEN_ID[ch] for ch in text], dtype=np.int64)


def decode(ids):
    """array([3, 1, 3, 12, 4, 0]) -> '1+1=2 '"""
    return "".join(CHARACTER[int(i)] for i in ids)


# ---- Step 2: the equations ------------------------------------------------------------------
# A sum is a pair of numbers (a, b). With `digits` = 1 they run from 0 to 9 (100 sums),
# with 2 from 0 to 99 (10,000 sums). Numbers are right-aligned in columns of `digits`
# characters, so a digit always sits in the same place: with 2 digits "4+4=" is
# written " 4+ 4=". The answer follows, then a blank that says "done".
def all_sums(digits=1):
    """[(0, 0), (0, 1), ..., (9, 9)]: every sum of two numbers with at most `digits` digits."""
    top = 10 ** digits
    return [(a, b) for a in range(top) for b in range(top)]


def question(a, b, digits=1):
    """(4, 4) -> '4+4='   (with digits=2: ' 4+ 4=')"""
    return f"{a:>{digits}}+{b:>{digits}}="


def answer(a, b):
    """(9, 9) -> '18': the digits the model must produce, most significant first."""
    return str(a + b)


def equation(a, b, digits=1):
    """(1, 2) -> '1+2=3 ': the question, its answer and the closing blank."""
    return question(a, b, digits) + answer(a, b) + BLANK


def parse_sum(text, digits=1):
    """'4+4' -> (4, 4); a clear error for anything that is not such a sum."""
    left, plus, right = text.strip().partition("+")
    right = right.partition("=")[0]  # '4+4=8' is accepted too; the answer is not needed
    top = 10 ** digits
    if not (plus and left.strip().isdigit() and right.strip().isdigit()) or \
            max(int(left), int(right)) >= top:
        raise SumError(f"cannot hold out {text!r}: write a sum like 4+4 of two whole "
                       f"numbers from 0 to {top - 1} (--digits {digits}).")
    return int(left), int(right)


def split_sums(hold_out=("4+4",), digits=1):
    """(training sums, held-out sums): every sum, with the held-out ones set aside."""
    held = sorted({parse_sum(s, digits) for s in hold_out})
    training = [s for s in all_sums(digits) if s not in held]
    return training, held


# ---- Step 3: the training pairs -------------------------------------------------------------
# The network sees a fixed number of tokens (the context) and predicts the next one. A
# context is the question followed by the answer so far, padded with blanks to a fixed
# length, so each slot always holds the same kind of thing (the network has separate
# weights for each slot). The sum 9+9 gives three pairs:
#
#     context  "9+9=  "  ->  next token "1"
#     context  "9+9=1 "  ->  next token "8"
#     context  "9+9=18"  ->  next token " "   (done)
def context_length(digits=1):
    """Tokens in a context: the question (2*digits + 2) and room for the longest answer."""
    return 2 * digits + 2 + digits + 1


def make_context(a, b, answer_so_far, digits=1):
    """(9, 9, '1') -> '9+9=1 ': the question, the answer so far, blanks to fill the context."""
    return (question(a, b, digits) + answer_so_far).ljust(context_length(digits), BLANK)


def make_pairs(sums, digits=1):
    """Every (context, next token) pair of the sums -> contexts (N, T), targets (N,) as ids."""
    contexts, targets = [], []
    for a, b in sums:
        full = answer(a, b) + BLANK  # what the model must write, the closing blank included
        for k in range(len(full)):  # k answer tokens are already written
            contexts.append(encode(make_context(a, b, full[:k], digits)))
            targets.append(TOKEN_ID[full[k]])
    return np.stack(contexts), np.array(targets, dtype=np.int64)


# ---- Step 4: the hyperparameters ------------------------------------------------------------
@dataclass
class Hyperparameters:
    """The knobs of the lesson: the seed's four (embedding_dim, hidden_dim, epochs, lr),
    the batch size, the spread of the starting token vectors and the random seed.
    The defaults are for one-digit sums."""

    embedding_dim: int = 16  # numbers per token vector
    hidden_dim: int = 64  # neurons in the hidden layer (capacity)
    epochs: int = 200  # passes over all the training pairs
    lr: float = 0.5  # learning rate: the size of each step downhill
    batch_size: int = 32  # pairs per weight update
    init_scale: float = 0.1  # spread of the starting token vectors (see init_weights)
    seed: int = 0  # the random start: the weights and the order of the pairs

    @classmethod
    def for_digits(cls, digits, **changes):
        """Defaults that train in seconds: 100 sums (1 digit) or 10,000 (2 digits)."""
        base = cls() if digits == 1 else cls(hidden_dim=128, epochs=15, batch_size=64)
        return dataclasses.replace(base, **changes)


# ---- Step 5: the weights --------------------------------------------------------------------
def init_weights(hp, digits=1, dtype=np.float64):
    """Random starting weights: a dict of arrays, each named after its role.

    The token vectors start small (init_scale 0.1). Then the digits begin nearly alike,
    and training pulls apart only what the sums tell apart: digits that add alike end up
    with similar vectors, in order, and 4+4 falls between sums the network has seen.
    Start them large (init_scale 1) and each digit is a random point from the start; the
    network then fits every training sum separately, and its answer to 4+4 is a guess,
    often a confident one (try `little-baby arithmetic --init-scale 1`).
    """
    rng = np.random.default_rng(hp.seed)
    T, E, H, V = context_length(digits), hp.embedding_dim, hp.hidden_dim, len(VOCAB)
    return {
        "embedding": rng.normal(0.0, hp.init_scale, (V, E)).astype(dtype),  # a row per token
        "W1": rng.normal(0.0, (T * E) ** -0.5, (T * E, H)).astype(dtype),  # context -> hidden
        "b1": np.zeros(H, dtype=dtype),
        "W2": rng.normal(0.0, H ** -0.5, (H, V)).astype(dtype),           # hidden -> logits
        "b2": np.zeros(V, dtype=dtype),
    }


# ---- Step 6: forward, backward, training ----------------------------------------------------
def forward(w, contexts):
    """contexts (N, T) token ids -> logits (N, V), and what the backward pass needs."""
    N, T = contexts.shape
    x = w["embedding"][contexts].reshape(N, -1)        # (N, T) -> (N, T, E) -> (N, T*E)
    hidden = np.tanh(linear_forward(x, w["W1"], w["b1"]))  # (N, T*E) -> (N, H)
    logits = linear_forward(hidden, w["W2"], w["b2"])  # (N, H) -> (N, V)
    return logits, (contexts, x, hidden)


def backward(w, dlogits, cache):
    """dlogits (N, V) -> the gradient of every weight (a dict with the same names)."""
    contexts, x, hidden = cache
    g = {}
    dhidden, g["W2"], g["b2"] = linear_backward(dlogits, hidden, w["W2"])  # (N, V) -> (N, H)
    dpre = dhidden * (1.0 - hidden * hidden)          # through tanh: d tanh(u)/du = 1 - tanh(u)^2
    dx, g["W1"], g["b1"] = linear_backward(dpre, x, w["W1"])  # (N, H) -> (N, T*E)
    g["embedding"] = np.zeros_like(w["embedding"])   # a token used twice gets both gradients
    np.add.at(g["embedding"], contexts.reshape(-1), dx.reshape(contexts.size, -1))
    return {name: g[name] for name in w}  # in the order of the weights


def loss_and_grads(w, contexts, targets):
    """Mean cross-entropy of the next tokens, and its gradients."""
    logits, cache = forward(w, contexts)
    loss, probs = cross_entropy_forward(logits, targets)  # softmax, then -log p(target)
    return float(loss), backward(w, cross_entropy_backward(probs, targets), cache)


def loss(w, contexts, targets):
    """Mean cross-entropy, without gradients."""
    return float(cross_entropy_forward(forward(w, contexts)[0], targets)[0])


def train(hp, sums, digits=1, log=None):
    """Train a fresh network on the sums: plain stochastic gradient descent.

    Returns the weights and a report (losses before and after, seconds). `log`, if given,
    is called with (epoch, loss) ten times during training.
    """
    contexts, targets = make_pairs(sums, digits)
    w = init_weights(hp, digits)
    rng = np.random.default_rng(hp.seed + 1)
    start, first = time.perf_counter(), loss(w, contexts, targets)
    for epoch in range(1, hp.epochs + 1):
        order = rng.permutation(len(targets))  # a new order of the pairs every epoch
        for i in range(0, len(order), hp.batch_size):
            batch = order[i:i + hp.batch_size]
            _, grads = loss_and_grads(w, contexts[batch], targets[batch])
            for name in w:
                w[name] -= hp.lr * grads[name]  # one small step downhill
        if log and epoch % max(1, hp.epochs // 10) == 0:
            log(epoch, loss(w, contexts, targets))
    report = {"pairs": len(targets), "loss_before": first, "loss_after": loss(w, contexts, targets),
              "seconds": time.perf_counter() - start,
              "params": sum(v.size for v in w.values())}
    return w, report


# ---- Step 7: asking the model ---------------------------------------------------------------
# The answer is written token by token: the model picks its most likely next token
# (greedy), that token joins the context, and it goes on until it writes the blank
# that means "done". The probability of the whole answer is the product of the
# probabilities of its steps, the closing blank included: the model's probability
# of writing exactly that answer.
def mlp_predictor(w, digits=1):
    """A function (sums, answers so far) -> next-token probabilities (N, V) for this network."""
    def predict(sums, so_far):
        contexts = np.stack([encode(make_context(a, b, s, digits))
                             for (a, b), s in zip(sums, so_far)])     # (N, T)
        logits, _ = forward(w, contexts)                              # (N, V)
        return softmax(logits)
    return predict


@dataclass
class Answer:
    """What the model wrote after a question, and how sure it was at each step."""

    a: int
    b: int
    text: str  # the answer's digits, e.g. '8'
    step_probs: list  # probability of each chosen token, the closing blank last
    correct_prob: float  # the probability it gives the right answer (all its steps)

    @property
    def prob(self):
        """Probability of the whole answer: the product of its steps."""
        return float(np.prod(self.step_probs))

    @property
    def correct(self):
        return self.text == answer(self.a, self.b)

    def __str__(self):
        return f"{self.a}+{self.b}={self.text}"


def ask(predict, sums, digits=1):
    """Greedy answers to many sums at once: a list of Answer."""
    max_steps = digits + 2  # the longest answer (digits + 1) and its closing blank
    texts, probs, done = [""] * len(sums), [[] for _ in sums], [False] * len(sums)
    for _ in range(max_steps):
        p = predict(sums, texts)                               # (N, V)
        best = p.argmax(axis=-1)                                # (N,) the most likely tokens
        for n, token in enumerate(best):
            if not done[n]:
                probs[n].append(float(p[n, token]))
                done[n] = CHARACTER[int(token)] == BLANK
                if not done[n]:
                    texts[n] += CHARACTER[int(token)]
        if all(done):
            break
    right = probability_of_answers(predict, sums)
    return [Answer(a, b, t, ps, float(r)) for (a, b), t, ps, r in zip(sums, texts, probs, right)]


def probability_of_answers(predict, sums):
    """(N,) the probability each sum's right answer gets: its tokens fed in one by one."""
    fulls = [answer(a, b) + BLANK for a, b in sums]
    prob = np.ones(len(sums))
    for k in range(max(len(f) for f in fulls)):
        p = predict(sums, [f[:k] for f in fulls])              # (N, V)
        for n, f in enumerate(fulls):
            if k < len(f):
                prob[n] *= p[n, TOKEN_ID[f[k]]]
    return prob


def accuracy(answers):
    """(right, total) over a list of Answer."""
    return sum(x.correct for x in answers), len(answers)


# ---- Step 8: looking inside -----------------------------------------------------------------
def number_line(embedding):
    """Where the ten digit vectors of an embedding (V, E) lie along their main direction,
    scaled to [-1, 1].

    Returns (positions of 0..9, the share of the vectors' spread along that direction).
    After training from small vectors the digits sit in order, evenly spaced, on this
    line: the network has found the number line by itself.
    """
    digits = np.asarray(embedding)[[TOKEN_ID[str(d)] for d in range(10)]]   # (10, E)
    centred = digits - digits.mean(axis=0)
    _, spread, directions = np.linalg.svd(centred, full_matrices=False)
    along = centred @ directions[0]                                   # (10,)
    if along[0] > along[9]:
        along = -along  # the direction's sign is arbitrary: put 0 at the left
    return along / np.abs(along).max(), float(spread[0] ** 2 / (spread ** 2).sum())
