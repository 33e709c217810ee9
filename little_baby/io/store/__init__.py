"""The local store: where models and texts live (places), who a model is (identity), a
model folder's files (model_folder, report, files), the models in the store (catalog),
what a name means (resolve), one writer per folder (claim), checkpoints and the ages."""
