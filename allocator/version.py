"""The version of allocator (the one place it is written; ``allocator.__version__`` reads it)."""

__version__ = "0.1.0"
