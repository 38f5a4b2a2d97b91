"""Newsflash Publisher: feeds and the "Join The Community" digest for a news site."""

__all__ = ["__version__"]

__version__ = "0.1.0"
