"""Sends under control (issue 13): an edition's editable intro line, its review deadline,
and who approved, paused, resumed or cancelled it and when. The new statuses
(awaiting_review, paused, cancelled) need no schema change.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
_WHO = ("approved", "paused", "resumed", "cancelled")


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("intro", sa.String(1000), nullable=False, server_default=""))
        batch.add_column(sa.Column("review_deadline_at", WHEN, nullable=True))
        for step in _WHO:
            batch.add_column(
                sa.Column(f"{step}_by", sa.String(400), nullable=False, server_default="")
            )
            batch.add_column(sa.Column(f"{step}_at", WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        for step in reversed(_WHO):
            batch.drop_column(f"{step}_at")
            batch.drop_column(f"{step}_by")
        batch.drop_column("review_deadline_at")
        batch.drop_column("intro")
