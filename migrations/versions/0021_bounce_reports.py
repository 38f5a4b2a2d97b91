"""Bounces and complaints as mail systems report them (issue 28): each report and what it
did, the bounce mailbox's polling state, the webhook events seen (replays refused), and the
complaints an edition's kept figures count.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bounce_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "edition_id",
            sa.Integer(),
            sa.ForeignKey("editions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("cleared_at", WHEN, nullable=True),
    )
    op.create_index(
        "ix_bounce_reports_subscriber", "bounce_reports", ["subscriber_id", "received_at"]
    )
    op.create_index("ix_bounce_reports_edition", "bounce_reports", ["edition_id", "kind"])
    op.create_table(
        "bounce_mailbox",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("next_poll_at", WHEN, nullable=False),
        sa.Column("last_poll_at", WHEN, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("down_since", WHEN, nullable=True),
        sa.Column("read_total", sa.Integer(), nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("provider", sa.String(20), primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("seen_at", WHEN, nullable=False),
    )
    op.create_index("ix_webhook_events_seen_at", "webhook_events", ["seen_at"])
    with op.batch_alter_table("edition_figures") as batch:
        batch.add_column(sa.Column("complained", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("edition_figures") as batch:
        batch.drop_column("complained")
    op.drop_index("ix_webhook_events_seen_at", "webhook_events")
    op.drop_table("webhook_events")
    op.drop_table("bounce_mailbox")
    op.drop_index("ix_bounce_reports_edition", "bounce_reports")
    op.drop_index("ix_bounce_reports_subscriber", "bounce_reports")
    op.drop_table("bounce_reports")
