"""The subscribers: a reader's own subscription (``subscriptions``), the editors' side
(``subscribers``), subscriber lists as CSV (``csv_rows``, ``csv_files``) and the links each
reader's mail carries (``links``)."""

__all__: list[str] = []
