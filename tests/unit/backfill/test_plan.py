import random

import pytest

from migtool.backfill.expressions import Assignment
from migtool.backfill.plan import (
    AUTO_MAX,
    AUTO_MIN,
    TARGET_SECONDS,
    BatchPlan,
    BatchSizer,
    KeyColumn,
    TableInfo,
    backoff_seconds,
    check_assignments,
    default_condition,
    eta_seconds,
    key_type,
    render,
)

USERS = TableInfo("public", "User", (KeyColumn("id", "text"),), ("id", "email", "email_lower", "full"),
                  generated=("full",))
COMPOSITE = TableInfo("app", "Membership", (KeyColumn("orgId", "uuid"), KeyColumn("userId", "integer")),
                      ("orgId", "userId", "role", "role2"))


def sql_text(q):
    return q.as_string(None)


def test_first_batch_has_no_lower_bound_and_never_offset():
    plan = BatchPlan(USERS, (Assignment("email_lower", "lower(email)"),), '"email_lower" IS NULL')
    first = sql_text(plan.batch_query(first=True))
    later = sql_text(plan.batch_query(first=False))
    assert "OFFSET" not in first.upper() and "OFFSET" not in later.upper()
    assert "CAST(" not in first
    assert 'ORDER BY "id" LIMIT %(limit)s' in first
    # the lower bound limits both the range's SELECT and the UPDATE
    assert later.count('"id" > CAST(%(k0)s AS text)') == 2
    assert 'UPDATE "public"."User" SET "email_lower" = lower(email)' in later
    # the UPDATE is a range scan up to the range's last key, with the condition re-checked on the row
    assert '"id" <= (SELECT migtool_k0 FROM migtool_last) AND ("email_lower" IS NULL)' in later
    assert plan.params(["abc"], 500) == {"k0": "abc", "limit": 500}
    assert plan.params(None, 500) == {"limit": 500}


def test_composite_keys_compare_as_rows_with_typed_bounds():
    plan = BatchPlan(COMPOSITE, (Assignment("role2", "role"),), '"role2" IS NULL')
    q = sql_text(plan.batch_query(first=False))
    assert '("orgId", "userId") > (CAST(%(k0)s AS uuid), CAST(%(k1)s AS integer))' in q
    assert 'ORDER BY "orgId", "userId" LIMIT' in q
    # leading column as an index condition, then the exact row bound
    assert ('"orgId" <= (SELECT migtool_k0 FROM migtool_last) AND ("orgId", "userId") <= '
            '(SELECT "migtool_k0", "migtool_k1" FROM migtool_last)') in q
    assert 'ARRAY["migtool_k0"::text, "migtool_k1"::text]' in q
    assert 'ORDER BY "migtool_k0" DESC, "migtool_k1" DESC LIMIT 1' in q


def test_render_shows_parameters_as_literals():
    plan = BatchPlan(USERS, (Assignment("email_lower", "lower(email)"),), '"email_lower" IS NULL')
    text = render(plan.batch_query(first=False), plan.params(["it's"], 500))
    assert "CAST('it''s' AS text)" in text and "LIMIT 500" in text and "%(" not in text


def test_key_type_refuses_anything_odd():
    assert sql_text(key_type("character varying(30)")) == "character varying(30)"
    for bad in ("int; DROP TABLE x", "text'--", ""):
        with pytest.raises(ValueError):
            key_type(bad)


def test_default_condition_quotes_the_column():
    assert default_condition([Assignment("emailLower", "x")]) == '"emailLower" IS NULL'


def test_job_id_changes_with_set_or_where_only():
    a = BatchPlan(USERS, (Assignment("email_lower", "lower(email)"),), '"email_lower" IS NULL')
    same = BatchPlan(USERS, (Assignment("email_lower", "lower(email)"),), '"email_lower" IS NULL')
    other = BatchPlan(USERS, (Assignment("email_lower", "upper(email)"),), '"email_lower" IS NULL')
    assert a.job_id() == same.job_id() != other.job_id()
    assert a.job_id().startswith("public.User:")


def test_check_assignments():
    assert check_assignments(USERS, [Assignment("email_lower", "1")]) is None
    assert "no column" in check_assignments(USERS, [Assignment("nope", "1")])
    assert "primary key" in check_assignments(USERS, [Assignment("id", "'x'")])
    assert "generated" in check_assignments(USERS, [Assignment("full", "'x'")])


def test_fixed_size_halves_on_timeouts_and_grows_back_to_the_limit():
    s = BatchSizer.from_option(1000)
    assert [s.after_timeout() for _ in range(3)] == [500, 250, 125]
    for _ in range(20):
        s.after_success(0.01, s.size)
    assert s.size == 1000
    for _ in range(20):
        s.after_timeout()
    assert s.size == 1


def test_auto_size_moves_towards_the_target_duration_within_bounds():
    s = BatchSizer.from_option("auto")
    start = s.size
    assert s.after_success(TARGET_SECONDS * 4, start) == start // 2  # 4x too slow: at most halved
    s = BatchSizer.from_option("auto")
    assert s.after_success(0.01, start) == start * 2  # much too fast: at most doubled
    s = BatchSizer.from_option("auto")
    assert s.after_success(TARGET_SECONDS, start) == start
    s = BatchSizer.from_option("auto")
    assert s.after_success(0.01, 3) == start  # a short last batch teaches nothing
    for _ in range(50):
        s.after_success(0.0001, s.size)
    assert s.size == AUTO_MAX
    for _ in range(50):
        s.after_success(100.0, s.size)
    assert s.size == AUTO_MIN


def test_backoff_grows_and_is_capped():
    rng = random.Random(1)
    waits = [backoff_seconds(i, rng=rng) for i in range(1, 12)]
    assert waits[0] <= 0.1 and waits[3] > waits[0]
    assert max(waits) <= 5.0


def test_eta():
    assert eta_seconds(50, 150, 10.0) == 10.0
    assert eta_seconds(10, None, 10.0) is None
    assert eta_seconds(10, 100, 0.0) is None


def test_percent_signs_of_the_user_are_not_placeholders():
    plan = BatchPlan(USERS, (Assignment("email_lower", "lower(email) || (length(email) % 7)::text"),),
                     "email LIKE '%@example.com'")
    q = sql_text(plan.batch_query(first=False))
    assert "email) % 7" not in q and "email) %% 7" in q and "'%%@example.com'" in q
    shown = render(plan.batch_query(first=False), plan.params(["a"], 10))
    assert "(length(email) % 7)" in shown and "LIKE '%@example.com'" in shown
