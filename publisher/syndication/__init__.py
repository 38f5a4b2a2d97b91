"""Our own feeds: RSS, Atom and JSON Feed bytes (``formats``, the only feedgen user), built from
the store and cached until something changes, exported (``feeds``), and the WebSub hub told when
they change (``hub``)."""

__all__: list[str] = []
