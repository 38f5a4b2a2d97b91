"""Sending: the crash-safe sender (``sending``), its processes (``worker``) and heartbeats
(``heartbeat``), the outbox of one-off mails (``outbox``) and the Prometheus figures
(``metrics``)."""

__all__: list[str] = []
