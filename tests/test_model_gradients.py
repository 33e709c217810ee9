"""The whole model's gradients against finite differences, float64, pre- and post-norm."""
import pytest

from tests.gradcheck import check_model_gradients


@pytest.mark.parametrize("c_sequence", ["pre", "post"])
def test_mha_mlp_gradients(c_sequence):
    check_model_gradients(c_sequence=c_sequence)


def test_gradients_with_a_short_batch_and_temperature():
    """T < n_ctx (only the first position rows get a gradient) and r_temp != 1."""
    check_model_gradients(T=5, n_ctx=12, r_temp=0.7)
