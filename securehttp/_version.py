"""securehttp's version: in its own module, so the client can name itself without
importing the package it is part of."""

__version__ = "0.1.0.dev0"
