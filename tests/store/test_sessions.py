"""Newsroom sessions and sign-in attempts in the database (issue 24), and staff ids that are
never handed out twice: on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from publisher import store
from tests.support import NOW

WINDOW = timedelta(minutes=15)


def _add(engine: Engine, email: str) -> int:
    with store.writing(engine) as session:
        return store.add_staff(session, email, "editor", nonce="n", now=NOW)


def test_attempts_reserved_from_many_threads_at_once_never_pass_the_limit(
    engine: Engine,
) -> None:
    """Each thread reserves at the same moment (a barrier): of 24, exactly 5 get one, on
    both databases; a right secret gives its attempt back, a wrong one keeps it."""
    threads, limit = 24, 5
    keys = [("client-key", 20), ("address-key", limit)]
    gate = threading.Barrier(threads)
    got: list[bool] = []

    def reserve() -> None:
        gate.wait()
        with store.writing(engine) as session:
            got.append(store.reserve_attempts(session, keys, since=NOW - WINDOW, now=NOW))

    workers = [threading.Thread(target=reserve) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(got) == [False] * (threads - limit) + [True] * limit
    with store.reading(engine) as session:
        rows = session.execute(text("SELECT key, count FROM signin_attempts")).all()
    counts = {str(key): int(count) for key, count in rows}
    assert counts == {"client-key": limit, "address-key": limit}  # a refusal takes nothing
    with store.writing(engine) as session:
        store.release_attempts(session, ["client-key", "address-key"])
        assert store.reserve_attempts(session, keys, since=NOW - WINDOW, now=NOW)
        assert not store.reserve_attempts(session, keys, since=NOW - WINDOW, now=NOW)
    with store.writing(engine) as session:
        assert store.reserve_attempts(session, [("old-key", 1)], since=NOW - WINDOW, now=NOW)
    later = NOW + WINDOW + timedelta(seconds=1)  # a new window starts from nothing
    with store.writing(engine) as session:
        assert store.reserve_attempts(session, keys, since=later - WINDOW, now=later)
    with store.writing(engine) as session:  # only the window that is over is forgotten
        assert store.prune_attempts(session, before=later - WINDOW) == 1


def test_a_removed_persons_id_is_never_given_to_the_next(engine: Engine) -> None:
    first, second = _add(engine, "a@example.com"), _add(engine, "b@example.com")
    with store.writing(engine) as session:
        store.remove_staff(session, "b@example.com")
    assert _add(engine, "c@example.com") > second > first


def test_the_migration_keeps_ids_of_people_removed_before_it(tmp_path: Path) -> None:
    """Migration 0019 on a SQLite database made by 0018 (no AUTOINCREMENT): the table is
    rebuilt with it, and the counter starts past every person the audit trail names, so that
    the id of someone removed before the upgrade is not reused either."""
    engine = store.make_engine(f"sqlite:///{tmp_path}/old.db")
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0018")
            schema = conn.execute(text("SELECT sql FROM sqlite_master WHERE name='staff'"))
            assert "AUTOINCREMENT" not in schema.scalar_one()  # the mistake 0019 mends
            conn.execute(
                text(
                    "INSERT INTO staff (id, email, role, created_at, updated_at) VALUES "
                    "(1, 'a@example.com', 'admin', :t, :t), (2, 'b@example.com', 'editor', :t, :t)"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO audit (at, actor, action, subject_kind, subject_id) VALUES "
                    "(:t, 'a@example.com', 'staff.remove', 'staff', 3)"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
        store.migrate(engine)
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT sql FROM sqlite_master WHERE name='staff'"))
            assert "AUTOINCREMENT" in schema.scalar_one()
            assert conn.execute(text("SELECT count(*) FROM staff")).scalar_one() == 2
        assert _add(engine, "c@example.com") == 4  # not 3: someone had it
    finally:
        engine.dispose()


def test_ended_sessions_are_pruned_and_a_removed_persons_go_with_them(engine: Engine) -> None:
    staff_id = _add(engine, "a@example.com")
    with store.writing(engine) as session:
        store.add_session(session, "old" * 16, staff_id, now=NOW - timedelta(days=2))
        store.add_session(session, "new" * 16, staff_id, now=NOW)
        gone = store.prune_sessions(
            session, idle_before=NOW - timedelta(hours=1), made_before=NOW - timedelta(days=1)
        )
    assert gone == 1
    with store.reading(engine) as session:
        assert store.session_row(session, "new" * 16) is not None
    with store.writing(engine) as session:
        store.remove_staff(session, "a@example.com")
    with store.reading(engine) as session:
        assert store.session_row(session, "new" * 16) is None
