"""The benchmark's measurements run and count FLOPs sensibly (its figures are printed,
never asserted: speed is measured by the benchmark, not by tests)."""
from little_baby.tools.bench import fresh_baby, measure_generation, measure_training, step_flops


def test_training_and_generation_measurements_run():
    r = measure_training("baby", 2, dict(n_layers=1))
    assert r["ms_per_step"] > 0 and r["tokens_per_s"] > 0 and r["params"] > 0
    g = measure_generation("baby", 5, dict(n_layers=1), repeats=1)
    assert g["cache"] > 0 and g["no_cache"] > 0


def test_flops_count_the_scores_only_where_they_are_computed():
    def flops(attention):
        baby = fresh_baby("baby", {"c_attention": attention})
        return step_flops(baby.config, baby)
    mha, gla = flops("mha"), flops("gla")
    cfg = fresh_baby("baby", {}).config
    scores = 3 * cfg.batch_size * cfg.n_ctx * cfg.n_layers * 4 * cfg.n_ctx * cfg.head_size
    assert mha - gla == scores  # same parameter sizes; gla has no T x T products
    assert abs(mha / 1e9 - 3.96) < 0.01  # PERFORMANCE-NOTES: 3.96 GFLOP per baby step
