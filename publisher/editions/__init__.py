"""Digest editions: made once per period (``making``), composed and inlined once (``compose``), the
message per reader and category variant (``messages``), review, test, pause and cancel
(``sends``), figures (``stats``) and click tracking (``clicks``)."""

__all__: list[str] = []
