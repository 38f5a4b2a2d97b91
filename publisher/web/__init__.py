"""The web side: the FastAPI app (``app.py``), the feed routes served from memory
(``feedroutes.py``), the guards on every response (``guards.py``) and uvicorn (``server.py``)."""

from publisher.web.app import create_app
from publisher.web.server import serve

__all__ = ["create_app", "serve"]
