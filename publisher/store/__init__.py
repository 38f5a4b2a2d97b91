"""The database: one module per noun, every query a function taking a session.

``from publisher import store`` gives all of them: ``store.make_engine``,
``store.upsert_articles``, ``store.claim_deliveries``...
"""

from publisher.store.articles import *  # noqa: F403
from publisher.store.audit import *  # noqa: F403
from publisher.store.clicks import *  # noqa: F403
from publisher.store.dashboard import *  # noqa: F403
from publisher.store.deliveries import *  # noqa: F403
from publisher.store.editions import *  # noqa: F403
from publisher.store.engine import *  # noqa: F403
from publisher.store.feeds import *  # noqa: F403
from publisher.store.figures import *  # noqa: F403
from publisher.store.outbox import *  # noqa: F403
from publisher.store.reports import *  # noqa: F403
from publisher.store.sources import *  # noqa: F403
from publisher.store.staff import *  # noqa: F403
from publisher.store.subscriber_search import *  # noqa: F403
from publisher.store.subscribers import *  # noqa: F403
from publisher.store.workers import *  # noqa: F403
