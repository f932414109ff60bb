"""interp: train, hook, analyse and evaluate small decoder-only language models."""

__version__ = "0.1.0"
