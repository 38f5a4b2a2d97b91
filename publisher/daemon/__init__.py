"""The daemon: its start-up wiring (``process``: what `publisher run` starts, in order, and
stops) and its alarm clock (``scheduler``)."""

__all__: list[str] = []
