from migtool.backfill.catalog import split_table_name
from migtool.backfill.guards import decide


def test_writers_waiting_make_it_pause_and_shrink():
    p = decide(waiters=3, batch_seconds=0.3, lag_seconds=None, max_lag=10)
    assert p is not None and p.shrink and 0.2 <= p.seconds <= 2.0 and "3 session" in p.reason


def test_replica_lag_above_the_limit_pauses_without_shrinking():
    p = decide(waiters=0, batch_seconds=0.1, lag_seconds=12.5, max_lag=10)
    assert p is not None and not p.shrink and "12.5" in p.reason


def test_nothing_wrong_no_pause():
    assert decide(0, 0.1, None, 10) is None
    assert decide(0, 0.1, 3.0, 10) is None


def test_table_names_are_taken_exactly():
    assert split_table_name("User") == (None, "User")
    assert split_table_name("app.User") == ("app", "User")
    assert split_table_name('"my.schema"."Odd""Name"') == ("my.schema", 'Odd"Name')
    assert split_table_name('"a.b"') == (None, "a.b")
