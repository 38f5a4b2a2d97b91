"""The web side: ``app.py`` assembles the FastAPI app around one ``Application``
(``application.py``, which every handler takes with ``Depends(application)``) from each
area's module-level router (``reader.py``, ``subscriptions.py``, ``reports.py``,
``archive.py``, ``clicks.py``, ``feeds.py``, ``websub_callback.py``, ``health.py``, the icon
in ``icon.py``, the API in ``api.py`` and the newsroom in ``admin/``), the error pages
(``errors.py``), what the reader pages share (``pages.py``, ``courier.py``), the guards on
every response (``guards.py``, ``limits.py``), HEAD for every GET route (``head.py``) and
uvicorn (``server.py``)."""

from publisher.web.app import create_app
from publisher.web.server import serve

__all__ = ["create_app", "serve"]
