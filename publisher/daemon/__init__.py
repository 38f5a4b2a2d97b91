"""The daemon: its alarm clock (``scheduler``)."""
