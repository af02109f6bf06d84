"""What the checks say: the will-fail sentence with counts, labels for estimates, and the fix."""

from __future__ import annotations

from migtool.datacheck.messages import describe, fix_for, rows_text, size_text
from migtool.datacheck.model import Check, Result, Table


def nn(**kw) -> Check:
    return Check(kind="not-null", file="m.sql", line=3, statement="", table=Table("User"), column="phone", **kw)


def test_will_fail_not_null():
    assert describe(Result(nn(), "will-fail", count=1204)) == 'will fail: 1,204 rows of "User" have NULL "phone"'
    est = Result(nn(), "will-fail", count=5493, exact=False, label="estimated", scanned=102856)
    assert describe(est) == ('will fail: ~5,493 rows of "User" have NULL "phone" (estimated from a sample of '
                             '102,856 rows)')
    derived = Result(nn(derived_from="m.sql:2"), "will-fail", count=3)
    assert describe(derived).endswith("after the backfill at m.sql:2")


def test_ok_and_unknown():
    assert describe(Result(nn(), "ok", count=0, rows=1_500_000, rows_exact=False)) == (
        'checked: no NULL "phone" in ~1.5M rows of "User"')
    assert describe(Result(nn(), "unknown", label="timeout"), 5000) == "could not check within 5 s"
    assert describe(Result(nn(), "unknown", detail="nope")) == "could not check: nope"
    r = Result(nn(), "unknown")
    assert (r.exact, r.label) == (False, "unchecked")


def test_unique_and_foreign_key_sentences():
    u = Check(kind="unique", file="m", line=1, statement="", table=Table("User"), keys=('"email"',),
              key_labels=("email",))
    r = Result(u, "will-fail", count=2, example={"key": {"email": "a@x"}, "rows": 3}, extra={"rows": 5})
    assert describe(r) == 'will fail: 2 duplicate groups (5 rows) of ("email") in "User", e.g. {"email": "a@x"} in 3 rows'
    fk = Check(kind="foreign-key", file="m", line=1, statement="", table=Table("Order"), keys=('"userId"',),
               key_labels=("userId",), ref_table=Table("User"))
    assert describe(Result(fk, "will-fail", count=7, example={"userId": 9})) == (
        'will fail: 7 rows of "Order" reference no row of User ("userId"), e.g. {"userId": 9}')
    assert "Clean the orphans" in fix_for(Result(fk, "will-fail", count=7))
    assert "Deduplicate first" in fix_for(r)
    assert "Backfill first" in fix_for(Result(nn(), "will-fail", count=1))


def test_sizes():
    size = Check(kind="table-size", file="m", line=1, statement="", table=Table("User"))
    assert describe(Result(size, "ok", rows=1_500_000, size_bytes=320 << 20)) == 'locks "User": ~1.5M rows, 320.0 MB'
    assert rows_text(1, True) == "1 row" and rows_text(12_345, True) == "12k rows"
    assert size_text(512) == "512 bytes" and size_text(3 << 30) == "3.0 GB"


def test_to_data_has_the_interface_keys():
    data = Result(nn(), "will-fail", count=1).to_data()
    assert {"check", "result", "count", "example", "exact"} <= set(data)
    assert (data["check"], data["result"], data["count"], data["exact"]) == ("not-null", "will-fail", 1, True)
