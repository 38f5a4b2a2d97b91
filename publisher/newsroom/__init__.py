"""The people who sign in (``staff``), their passwords (``passwords``) and second factor
(``twofactor``, ``otp``), and the dashboard and audit trail (``dashboard``)."""

__all__: list[str] = []
