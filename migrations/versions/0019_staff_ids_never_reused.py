"""Staff ids are never reused on SQLite (issue 24): migrations 0012 and 0018 rebuilt ``staff``
without AUTOINCREMENT, so a removed person's id went to the next one added, and whatever named
the first (a session, the audit trail) named the second.

The table is rebuilt with AUTOINCREMENT, and SQLite's counter set past every id the audit trail
has ever named for a person, so that the ids of people removed before this upgrade are not
handed out again either. PostgreSQL's identity never reuses a value: nothing to do there.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # store.migrate turns foreign keys off meanwhile, as SQLite's docs ask for a rebuild.
    with op.batch_alter_table(
        "staff", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass  # rebuilt as it is, with AUTOINCREMENT
    highest = bind.execute(
        sa.text(
            "SELECT max(n) FROM (SELECT max(id) AS n FROM staff UNION ALL "
            "SELECT max(subject_id) FROM audit WHERE subject_kind = 'staff')"
        )
    ).scalar()
    if highest:
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'staff'"))
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('staff', :n)"),
            {"n": int(highest)},
        )


def downgrade() -> None:
    """Nothing to undo: AUTOINCREMENT changes no column."""
