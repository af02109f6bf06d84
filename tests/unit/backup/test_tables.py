from migtool.backup.manifest import TableInfo
from migtool.backup.tables import (
    EXACT_COUNT_MAX_BYTES,
    compare_tables,
    count_sql,
    quote_ident,
    wants_exact_counts,
)


def test_count_sql_quotes_names():
    sql = count_sql([("public", "users"), ("we\"ird", "it's")])
    assert 'FROM "public"."users"' in sql
    assert 'FROM "we""ird"."it\'s"' in sql
    assert """'"we""ird"."it''s"' AS tbl""" in sql
    assert sql.count("UNION ALL") == 1
    assert count_sql([]) is None
    assert quote_ident('a"b') == '"a""b"'


def test_exact_counts_only_for_small_databases():
    assert wants_exact_counts([{"heap_bytes": 1000}, {"heap_bytes": None}])
    assert not wants_exact_counts([{"heap_bytes": EXACT_COUNT_MAX_BYTES}, {"heap_bytes": 1}])


def test_exact_counts_must_match():
    expected = [TableInfo("public", "a", 10), TableInfo("public", "b", 0)]
    assert compare_tables(expected, "exact", {'"public"."a"': 10, '"public"."b"': 0}).problems == []
    assert compare_tables(expected, "exact", {'"public"."a"': 10, '"public"."b"': 0}).compared == 2
    cmp = compare_tables(expected, "exact", {'"public"."a"': 9, '"public"."b"': 0})
    assert cmp.problems == ["public.a: 9 rows restored, 10 dumped"]


def test_missing_and_extra_tables():
    cmp = compare_tables([TableInfo("public", "a", 1)], "exact", {'"public"."z"': 1})
    assert "tables missing after restore: public.a" in cmp.problems
    assert "tables not in the manifest appeared: public.z" in cmp.problems


def test_estimates_only_warn_and_only_when_far_off():
    expected = [TableInfo("public", "a", None, 100_000), TableInfo("public", "b", None, 50)]
    cmp = compare_tables(expected, "estimated", {'"public"."a"': 101_000, '"public"."b"': 900})
    assert cmp.problems == [] and cmp.warnings == []
    cmp = compare_tables(expected, "estimated", {'"public"."a"': 50_000, '"public"."b"': 0})
    assert cmp.problems == [] and cmp.warnings == ["public.a: 50000 rows restored, about 100000 estimated"]


def test_manifest_without_table_list_compares_nothing():
    cmp = compare_tables([], "none", {'"public"."a"': 5})
    assert cmp.problems == [] and cmp.compared == 0
    assert "none compared" in cmp.warnings[0]


def test_names_with_dots_do_not_collide():
    """"a.b".c and a."b.c" are two tables; keyed by 'schema.name' text they were one (issue 9)."""
    expected = [TableInfo("a.b", "c", 7), TableInfo("a", "b.c", 3)]
    restored = {'"a.b"."c"': 7, '"a"."b.c"': 3}
    cmp = compare_tables(expected, "exact", restored)
    assert cmp.problems == [] and cmp.compared == 2
    cmp = compare_tables(expected, "exact", {'"a.b"."c"': 7, '"a"."b.c"': 7})
    assert cmp.problems == ['a.b.c: 7 rows restored, 3 dumped']
    assert {TableInfo("a.b", "c").key, TableInfo("a", "b.c").key} == set(restored)
    sql = count_sql([("a.b", "c"), ("a", "b.c")])
    assert """'"a.b"."c"' AS tbl""" in sql and """'"a"."b.c"' AS tbl""" in sql
