"""Scripts around the package: retraining the age models, the benchmark, the variants table."""
