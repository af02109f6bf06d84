"""migtool backfill through the compose target: refused (with the fix) while the postgres
service publishes no port, then run over the published port with the compose file's credentials."""

from __future__ import annotations

import json

import pytest

from tests.support.published_postgres import compose_target, published_postgres, run_migtool

pytestmark = pytest.mark.e2e

SEED = """
DROP TABLE IF EXISTS bf_e2e, migtool_backfill;
CREATE TABLE bf_e2e (id int PRIMARY KEY, a int NOT NULL, b int);
INSERT INTO bf_e2e SELECT g, g, NULL FROM generate_series(1, 3000) g;
"""


def _backfill(stack, files, *args):
    return run_migtool(compose_target(stack, files), "backfill", "--table", "bf_e2e", "--set", "b = a * 2",
                       "--batch-size", "500", "--yes", *args)


def test_backfill_through_the_compose_target(compose_stack):
    stack = compose_stack
    stack.psql(SEED)
    try:
        refused = _backfill(stack, stack.compose_files)
        assert refused.returncode == 2, refused.stderr
        assert "publishes no port" in refused.stderr and "127.0.0.1::5432" in refused.stderr
        assert stack.psql_rows("SELECT count(*) AS n FROM bf_e2e WHERE b IS NOT NULL") == [{"n": "0"}]

        with published_postgres(stack) as files:
            res = _backfill(stack, files, "--json")
            assert res.returncode == 0, res.stderr
            summary = json.loads(res.stdout)
            assert summary["rows_updated"] == 3000 and summary["remaining"] == 0 and summary["batches"] == 7
            assert stack.db_password not in res.stdout + res.stderr
        assert stack.psql_rows("SELECT count(*) AS n FROM bf_e2e WHERE b IS DISTINCT FROM a * 2") == [{"n": "0"}]
        assert stack.psql_rows("SELECT state, rows_done FROM migtool_backfill") == [{"state": "done",
                                                                                   "rows_done": "3000"}]
    finally:
        stack.psql("DROP TABLE IF EXISTS bf_e2e, migtool_backfill;")
