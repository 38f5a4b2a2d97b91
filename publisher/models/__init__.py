"""The SQLModel tables, one module per domain, all re-exported here. No queries and no I/O:
those live in :mod:`publisher.store`."""

from publisher.models.articles import (
    Article,
    ArticleCategory,
    Category,
    Correction,
    Report,
    Revision,
    Stamp,
)
from publisher.models.base import AwareDateTime
from publisher.models.community import Confirmation, Interest, Subscriber, Subscription
from publisher.models.delivery import (
    BounceMailbox,
    BounceReport,
    Delivery,
    OutboxMessage,
    WebhookEvent,
    Worker,
)
from publisher.models.editions import (
    ONE_OFF,
    Audience,
    Edition,
    EditionArticle,
    EditionFigures,
    EditionUnsubscribe,
    LinkReader,
    TrackedLink,
)
from publisher.models.look import Look, LookLogo
from publisher.models.media import Picture, PictureFetch, PictureFile
from publisher.models.newsroom import AuditEntry, SignInAttempts, StaffSession, StaffUser
from publisher.models.sources import Source, SourceItem
from publisher.models.syndication import FeedState, WebSubPing

__all__ = [
    "ONE_OFF",
    "Article",
    "ArticleCategory",
    "Audience",
    "AuditEntry",
    "AwareDateTime",
    "BounceMailbox",
    "BounceReport",
    "Category",
    "Confirmation",
    "Correction",
    "Delivery",
    "Edition",
    "EditionArticle",
    "EditionFigures",
    "EditionUnsubscribe",
    "FeedState",
    "Interest",
    "LinkReader",
    "Look",
    "LookLogo",
    "OutboxMessage",
    "Picture",
    "PictureFetch",
    "PictureFile",
    "Report",
    "Revision",
    "SignInAttempts",
    "Source",
    "SourceItem",
    "StaffSession",
    "StaffUser",
    "Stamp",
    "Subscriber",
    "Subscription",
    "TrackedLink",
    "WebSubPing",
    "WebhookEvent",
    "Worker",
]
