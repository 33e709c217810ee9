"""The whole model's gradients against finite differences, float64, pre- and post-norm."""
import pytest

from tests.gradcheck import check_model_gradients


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_mha_mlp_gradients(c_sequence):
    check_model_gradients(c_sequence=c_sequence)


def test_gradients_with_a_short_batch_and_temperature():
    """T < n_ctx (only the first position rows get a gradient) and r_temp != 1."""
    check_model_gradients(T=5, n_ctx=12, r_temp=0.7)


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_tied_embeddings_gradients(c_sequence):
    """c_tie (GPT-2's head): no lm_head weights; wte's gradient is the sum of its two uses
    (embedding rows and output layer), each checked against finite differences."""
    check_model_gradients(c_sequence=c_sequence, c_tie=True)


def test_tied_embeddings_gradients_through_add_at(monkeypatch):
    """A vocabulary past the one-hot limit scatter-adds its rows (add.at) onto the output
    layer's gradient of wte: the same sum."""
    from little_baby.engine import ops
    monkeypatch.setattr(ops, "ONE_HOT_MAX_VOCAB", 2)
    check_model_gradients(c_tie=True, T=5)


def test_tied_embeddings_store_the_head_once():
    from tests.gradcheck import tiny_baby
    from little_baby.engine.transformer import count_params
    tied, x, _ = tiny_baby(c_tie=True)
    untied, _, _ = tiny_baby()
    assert "lm_head.weight" not in tied.params and "lm_head.bias" not in tied.params
    V, C = 7, tied.config.n_emb
    assert untied.n_params - tied.n_params == C * V + V
    assert tied.n_params == count_params(tied.config, V)
    import numpy as np
    wte = np.asarray(tied.params["wte.weight"])
    logits = np.asarray(tied.logits(x))
    assert np.abs(logits).max() > 0.1
    # the logits are the last LayerNorm's output times wte^T: scaling wte's one row
    # changes that token's logit everywhere (a head of its own would not move)
    wte[3] *= 2
    changed = np.asarray(tied.logits(x))
    assert not np.allclose(changed[..., 3], logits[..., 3])


def test_a_tied_model_grows_its_vocabulary_in_wte_alone():
    from tests.gradcheck import tiny_baby
    import numpy as np
    baby, x, _ = tiny_baby(c_tie=True)
    old = np.array(baby.params["wte.weight"])
    assert baby.expand_vocab("xyz") == ["x", "y", "z"]
    assert baby.params["wte.weight"].shape == (10, baby.config.n_emb)
    np.testing.assert_array_equal(baby.params["wte.weight"][:7], old)
    assert baby.logits(x).shape[-1] == 10 and "lm_head.weight" not in baby.params
