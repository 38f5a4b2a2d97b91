"""Mail as bytes and on the wire: MIME built once per edition (``mime``), SMTP and Maildir
transports (``transports``) and bounce reports read back (``bounces``)."""

__all__: list[str] = []
