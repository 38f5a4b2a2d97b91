"""The web side: ``app.py`` assembles the FastAPI app from one router per area (``reader.py``,
``forms.py``, ``reports.py``, ``archive.py``, ``health.py``, ``feedroutes.py``), the error
pages (``errors.py``), what the areas share (``pages.py``, ``courier.py``), the guards on every
response (``guards.py``, ``limits.py``) and uvicorn (``server.py``)."""

from publisher.web.app import create_app
from publisher.web.server import serve

__all__ = ["create_app", "serve"]
