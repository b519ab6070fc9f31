"""LCI Studio: learned image compression, made visible."""

__version__ = "0.1.0"
