"""The deploy lock on a real PostgreSQL (direct target): exclusive, names its holder, notices a loss."""

from __future__ import annotations

import psycopg
import pytest

from migtool.config import Secret
from migtool.database import DirectDatabase
from migtool.deploy.lock import DEPLOY_LOCK_KEY, DeployLock, LockBusy, holder_app_name, lock_holders
from migtool.errors import EnvironmentProblem

pytestmark = pytest.mark.integration


def test_one_holder_at_a_time_and_a_lost_lock_is_noticed(pg_url):
    db = DirectDatabase(Secret(pg_url))
    first = DeployLock(db, holder_app_name("deploy-migrate-20250101T000000Z-aaaaaa", "ann", "host-a", 11))
    first.acquire(timeout=1)
    try:
        second = DeployLock(db, holder_app_name("deploy-migrate-20250101T000001Z-bbbbbb", "bob", "host-b", 22))
        waited = []
        with pytest.raises(LockBusy) as info:
            second.acquire(timeout=1, on_wait=waited.append)
        assert info.value.holder.run == {"run": "deploy-migrate-20250101T000000Z-aaaaaa", "user": "ann",
                                         "host": "host-a", "pid": "11"}
        assert waited and waited[0].lock == "deploy"
        first.confirm_held()
        [holder] = lock_holders(db)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (holder.pid,))
        with pytest.raises(EnvironmentProblem):
            first.confirm_held()
        second.acquire(timeout=5)  # the server dropped the lock with the session
        second.release()
    finally:
        first.release()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute(f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                            f"AND objid = {DEPLOY_LOCK_KEY}").fetchone()[0] == 0
