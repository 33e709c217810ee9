"""The `little-baby` command line: main.py wires the sub-commands in commands/."""
from .main import main

__all__ = ["main"]
