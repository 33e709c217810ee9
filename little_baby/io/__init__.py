"""Models on disk and on the Hub: atomic files, the model folder (store), the local cache
of model folders, checkpoints, the original project's format, model cards, the Hub."""
