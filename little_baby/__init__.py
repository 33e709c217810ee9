"""The Little Baby: small GPT language models in NumPy (CuPy on a GPU), every forward
and backward pass written by hand."""
from .baby import LittleBaby
from .backend import Backend, BackendError
from .config import BabyConfig, ConfigError
from .tokenizer import CharTokenizer, TokenizerError, WordTokenizer

__version__ = "0.1.0"

__all__ = ["LittleBaby", "BabyConfig", "CharTokenizer", "WordTokenizer", "Backend",
           "BackendError", "ConfigError", "TokenizerError", "__version__"]
