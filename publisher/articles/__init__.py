"""Articles: their fields cleaned and checked (``cleaning``), article files read (``files``), and
the use cases that put them in, correct and unpublish them (``publish``)."""

__all__: list[str] = []
