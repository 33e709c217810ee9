"""The Little Baby: small GPT language models in NumPy (CuPy on a GPU), every forward
and backward pass written by hand."""
from .baby import LittleBaby
from .config import BabyConfig
from .engine.backend import Backend
from .errors import BabyError, BackendError, ConfigError, TokenizerError
from .tokenizer import CharTokenizer, WordTokenizer

__version__ = "0.1.0"

__all__ = ["LittleBaby", "BabyConfig", "CharTokenizer", "WordTokenizer", "Backend",
           "BabyError", "BackendError", "ConfigError", "TokenizerError", "__version__"]
