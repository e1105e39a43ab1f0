"""kuaichu (快处): remote video handling of minor traffic accidents."""

__version__ = "0.1.0"
