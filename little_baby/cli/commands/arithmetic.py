"""The first lesson: a tiny network learns to add, and answers sums it never saw.

    little-baby arithmetic                             # hold out 4+4, train, ask it
    little-baby arithmetic --hold-out 4+4 --hold-out 3+5
    little-baby arithmetic --model gpt                 # the same sums through the transformer
    little-baby arithmetic --digits 2                  # numbers 0..99: 10,000 sums

The held-out sums never appear in the training data. Each answer is written one token
at a time, always the most likely one (greedy), until the model writes the blank that
ends it; its probability is the product of those steps' probabilities. The code to read
is little_baby/lessons/arithmetic.py (and arithmetic_gpt.py for --model gpt).
"""
from ...errors import BabyError
from ...lessons import arithmetic as lesson
from ...lessons import arithmetic_gpt as gpt

MLP_ONLY = ("embedding_dim", "hidden_dim", "init_scale")
GPT_ONLY = ("n_emb", "n_heads", "n_layers")


def add_arguments(parser):
    parser.add_argument("--model", choices=["mlp", "gpt"], default="mlp",
                        help="mlp: embedding -> hidden -> logits (default); gpt: LittleBaby")
    parser.add_argument("--hold-out", action="append", metavar="SUM",
                        help="a sum kept out of training, e.g. 4+4; repeat for more "
                             "(default: 4+4)")
    parser.add_argument("--digits", type=int, choices=[1, 2], default=1,
                        help="digits per number: 1 (100 sums) or 2 (10,000 sums)")
    parser.add_argument("--seed", type=int, default=0, help="random start (default 0)")
    parser.add_argument("--epochs", type=int,
                        help="passes over the training data (default: mlp 200, gpt 200; "
                             "with --digits 2: mlp 15, gpt 10)")
    parser.add_argument("--lr", type=float, help="learning rate (default: mlp 0.5, gpt 0.01)")
    parser.add_argument("--batch-size", type=int,
                        help="examples per weight update (default 32; mlp with --digits 2: 64)")
    parser.add_argument("--show-wrong", type=int, default=5, metavar="N",
                        help="list up to N wrong answers to learnt sums (default 5)")
    mlp = parser.add_argument_group("the small network (--model mlp)")
    mlp.add_argument("--embedding-dim", type=int, help="numbers per token vector (default 16)")
    mlp.add_argument("--hidden-dim", type=int,
                     help="hidden neurons (default 64; 128 with 2 digits)")
    mlp.add_argument("--init-scale", type=float,
                     help="spread of the starting token vectors (default 0.1)")
    gpt = parser.add_argument_group("the transformer (--model gpt)")
    gpt.add_argument("--n-emb", type=int, help="embedding width (default 16)")
    gpt.add_argument("--n-heads", type=int, help="attention heads (default 4)")
    gpt.add_argument("--n-layers", type=int, help="transformer blocks (default 2)")


def run(args):
    training, held = lesson.split_sums(args.hold_out or ["4+4"], args.digits)
    if not training:
        raise BabyError("every sum is held out: nothing is left to learn from.")
    changes = settings(args)
    n = 10 ** args.digits
    print(f"Lesson: add two numbers of {args.digits} digit{'s' * (args.digits > 1)}. "
          f"{n * n:,} sums: {len(training):,} to learn from, {len(held)} held out "
          f"({', '.join(f'{a}+{b}' for a, b in held)}).", flush=True)
    train = train_mlp if args.model == "mlp" else train_gpt
    predict, embedding = train(changes, training, args.digits)

    answers = lesson.ask(predict, lesson.all_sums(args.digits), args.digits)
    by_sum = {(x.a, x.b): x for x in answers}
    print("\nHeld out (never seen in training): the greedy answer, its probability and steps")
    for s in held:
        print("  " + describe(by_sum[s]))

    print("\nAccuracy of the greedy answers")
    held_set = set(held)
    for name, group in (("learnt sums", [x for x in answers if (x.a, x.b) not in held_set]),
                        ("held out", [by_sum[s] for s in held]), ("all sums", answers)):
        right, total = lesson.accuracy(group)
        print(f"  {name:12} {right:6,} / {total:<6,} {right / total:7.1%}")
    wrong = [x for x in answers if not x.correct and (x.a, x.b) not in held_set]
    if wrong and args.show_wrong > 0:
        print(f"\nWrong answers to learnt sums (first {min(args.show_wrong, len(wrong))} "
              f"of {len(wrong):,})")
        for x in wrong[:args.show_wrong]:
            print("  " + describe(x))

    positions, share = lesson.number_line(embedding)
    print(f"\nNumber line: the digit vectors along their main direction ({share:.0%} of their "
          f"spread)\n  " + "  ".join(f"{d}:{p:+.2f}" for d, p in enumerate(positions)))
    return 0


def settings(args):
    """The hyperparameters the user set (others keep the lesson's defaults)."""
    own, other = (MLP_ONLY, GPT_ONLY) if args.model == "mlp" else (GPT_ONLY, MLP_ONLY)
    misplaced = [k for k in other if getattr(args, k) is not None]
    if misplaced:
        raise BabyError(f"{', '.join('--' + k.replace('_', '-') for k in misplaced)} "
                        f"{'is' if len(misplaced) == 1 else 'are'} not for --model {args.model}.")
    changes = {k: getattr(args, k) for k in (*own, "epochs", "lr", "batch_size")
               if getattr(args, k) is not None}
    for key, value in changes.items():
        if value <= 0:
            raise BabyError(f"--{key.replace('_', '-')} must be above 0, not {value}.")
    changes["seed"] = args.seed
    return changes


def train_mlp(changes, training, digits):
    hp = lesson.Hyperparameters.for_digits(digits, **changes)
    T = lesson.context_length(digits)
    print(f"Model: mlp: {T} tokens x {hp.embedding_dim} -> {hp.hidden_dim} tanh -> "
          f"{len(lesson.VOCAB)} logits; {hp.epochs} epochs of SGD, lr {hp.lr}, batch "
          f"{hp.batch_size}, init scale {hp.init_scale}, seed {hp.seed}", flush=True)
    w, r = lesson.train(hp, training, digits)
    print(f"Trained {r['params']:,} weights on {r['pairs']:,} (context, next token) pairs in "
          f"{r['seconds']:.1f} s: loss {r['loss_before']:.3f} -> {r['loss_after']:.3f}")
    return lesson.mlp_predictor(w, digits), w["embedding"]


def train_gpt(changes, training, digits):
    hp = gpt.GPTHyperparameters.for_digits(digits, **changes)
    print(f"Model: gpt: n_ctx {lesson.context_length(digits)}, n_emb {hp.n_emb}, {hp.n_heads} "
          f"heads, {hp.n_layers} layers; {hp.epochs} epochs of AdamW, lr {hp.lr}, batch "
          f"{hp.batch_size}, seed {hp.seed}", flush=True)
    baby, r = gpt.train_gpt(hp, training, digits)
    print(f"Trained {r['params']:,} weights on {r['rows']:,} equations ({r['steps']:,} steps) in "
          f"{r['seconds']:.1f} s: loss {r['loss_before']:.3f} -> {r['loss_after']:.3f} "
          f"(at best {gpt.loss_floor(digits):.3f}: operand digits cannot be predicted)")
    return gpt.gpt_predictor(baby, digits), baby.backend.to_numpy(baby.params["wte.weight"])


def describe(x):
    """'4+4=8      p 0.95  ('8' 0.96, end 0.99)  right'"""
    steps = ", ".join(f"'{ch}' {p:.2f}" for ch, p in zip(x.text, x.step_probs))
    if len(x.step_probs) > len(x.text):
        steps += (", " if x.text else "") + f"end {x.step_probs[-1]:.2f}"
    verdict = "right" if x.correct else \
        f"wrong: {x.a}+{x.b}={lesson.answer(x.a, x.b)} has p {x.correct_prob:.2f}"
    return f"{str(x):11} p {x.prob:.2f}  ({steps})  {verdict}"
