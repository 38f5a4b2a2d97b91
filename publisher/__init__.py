"""Newsflash Publisher: feeds and the "Join The Community" digest for a news site."""

__version__ = "0.1.0"
