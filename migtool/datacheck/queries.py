"""The SQL each data check runs. Pure: strings in, strings out.

Every query returns one row with one text column holding a JSON object, so the two ways of reaching
the database (psycopg, or psql inside the compose service) read results the same way. All of it is
plain SELECTs (and, for type changes before PostgreSQL 16, a DO block that only reads): the runner
wraps each in a READ ONLY transaction, so nothing here can write even if a bug tried.
"""

from __future__ import annotations

from migtool.datacheck.model import CHECK, FOREIGN_KEY, NOT_NULL, TYPE_CHANGE, UNIQUE, Check, Table, qi

SAMPLE_SEED = 17  # REPEATABLE: the sample and its row count read the same pages
RESULT_SETTING = "migtool.datacheck"  # where the DO block leaves its answer (transaction-local)
EXAMPLE_CHARS = 200


def literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    return "'" + text.replace("'", "''") + "'"


def regclass_arg(table: Table) -> str:
    return literal(table.sql)


def sample_clause(percent: float | None) -> str:
    if percent is None:
        return ""
    return f" TABLESAMPLE SYSTEM ({percent:.6g}) REPEATABLE ({SAMPLE_SEED})"


def sample_percent(rows: int, target_rows: int) -> float:
    """The TABLESAMPLE SYSTEM percentage that reads about target_rows of a table of `rows`."""
    if rows <= 0:
        return 100.0
    return max(0.0001, min(100.0, 100.0 * target_rows / rows))


def table_info_sql(table: Table) -> str:
    """Whether the table exists, its planner statistics and its size (no lock beyond ACCESS SHARE)."""
    return (
        "SELECT json_build_object('exists', c.oid IS NOT NULL, 'reltuples', c.reltuples::bigint, "
        "'relpages', c.relpages, 'heap_bytes', pg_relation_size(c.oid), "
        "'total_bytes', pg_total_relation_size(c.oid))::text "
        f"FROM (SELECT to_regclass({regclass_arg(table)}) AS oid) r LEFT JOIN pg_class c ON c.oid = r.oid"
    )


def count_rows_sql(table: Table) -> str:
    return f"SELECT json_build_object('count', count(*))::text FROM {table.sql}"


def _json_object(labels: tuple[str, ...] | list[str], exprs: tuple[str, ...] | list[str]) -> str:
    pairs = ", ".join(f"{literal(label)}, {expr}" for label, expr in zip(labels, exprs, strict=True))
    return f"json_build_object({pairs})"


def _scanned(table: Table, percent: float | None) -> str:
    if percent is None:
        return ""
    return f", 'scanned', (SELECT count(*) FROM {table.sql}{sample_clause(percent)})"


def _violations(table: Table, alias: str, predicate: str, example: str | None, percent: float | None) -> str:
    source = f"{table.sql} AS {alias}{sample_clause(percent)}"
    if example is None:
        # One scan the planner can answer from an index (e.g. WHERE "phone" IS NULL).
        return (f"SELECT json_build_object('count', count(*){_scanned(table, percent)})::text "
                f"FROM {source} WHERE {predicate}")
    return (
        f"WITH v AS (SELECT {example} AS example FROM {source} WHERE {predicate}) "
        "SELECT json_build_object('count', (SELECT count(*) FROM v), "
        f"'example', (SELECT example FROM v LIMIT 1){_scanned(table, percent)})::text"
    )


def not_null_sql(check: Check, percent: float | None = None) -> str:
    """Rows where the column is (or, after the deploy's earlier statements, would still be) NULL."""
    predicate = check.value_sql or f"{qi(check.column or '')} IS NULL"
    return _violations(check.table, "t", f"({predicate})", None, percent)


def unique_sql(check: Check, percent: float | None = None) -> str:
    """Groups of rows sharing a key (NULLs never collide unless NULLS NOT DISTINCT)."""
    conditions = [f"{k} IS NOT NULL" for k in check.keys] if check.nulls_distinct else []
    if check.predicate:
        conditions.append(f"({check.predicate})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    keys = ", ".join(check.keys)
    return (
        f"WITH d AS (SELECT {_json_object(check.key_labels, check.keys)} AS key, count(*) AS n "
        f"FROM {check.table.sql}{sample_clause(percent)}{where} GROUP BY {keys} HAVING count(*) > 1) "
        "SELECT json_build_object('count', (SELECT count(*) FROM d), 'rows', (SELECT coalesce(sum(n), 0) FROM d), "
        f"'example', (SELECT json_build_object('key', key, 'rows', n) FROM d LIMIT 1){_scanned(check.table, percent)}"
        ")::text"
    )


def foreign_key_sql(check: Check, ref_columns: tuple[str, ...], percent: float | None = None) -> str:
    """Referencing rows (all key columns set: MATCH SIMPLE) with no referenced row."""
    child = [f"c.{k}" for k in check.keys]
    conditions = [f"{k} IS NOT NULL" for k in child]
    if not check.ref_is_new:
        assert check.ref_table is not None
        join = " AND ".join(f"p.{qi(r)} = {c}" for r, c in zip(ref_columns, child, strict=True))
        conditions.append(f"NOT EXISTS (SELECT 1 FROM {check.ref_table.sql} AS p WHERE {join})")
    return _violations(check.table, "c", " AND ".join(conditions), _json_object(check.key_labels, child), percent)


def check_constraint_sql(check: Check, percent: float | None = None) -> str:
    """Rows for which the CHECK expression is false (NULL passes a CHECK)."""
    cols = check.example_columns
    example = _json_object(cols, [qi(c) for c in cols]) if cols else None
    return _violations(check.table, "t", f"({check.expression}) IS FALSE", example, percent)


def input_valid_sql(check: Check, percent: float | None = None) -> str:
    """PostgreSQL 16+: values whose text the new type's input function rejects (exact, no error raised)."""
    col = qi(check.column or "")
    predicate = f"{col} IS NOT NULL AND NOT pg_input_is_valid({col}::text, {literal(check.new_type or '')})"
    return _violations(check.table, "t", predicate, f"left({col}::text, {EXAMPLE_CHARS})", percent)


def type_info_sql(check: Check) -> str:
    """The column's type today, the new type, and whether an automatic (assignment) cast exists between them."""
    new_type = literal(check.new_type or "")
    bounded = "true" if "(" in (check.new_type or "") else "false"
    return (
        "SELECT json_build_object('source', format_type(a.atttypid, a.atttypmod), 'source_category', st.typcategory, "
        "'target', format_type(tt.oid, NULL), 'same_type', a.atttypid = tt.oid, "
        f"'never_fails', tt.oid IN ('text'::regtype, 'varchar'::regtype) AND NOT {bounded}, "
        "'assignable', a.atttypid = tt.oid OR tt.typcategory = 'S' OR EXISTS (SELECT 1 FROM pg_cast k "
        "WHERE k.castsource = CASE WHEN st.typtype = 'd' THEN st.typbasetype ELSE st.oid END "
        "AND k.casttarget = CASE WHEN tt.typtype = 'd' THEN tt.typbasetype ELSE tt.oid END "
        "AND k.castcontext IN ('a', 'i')))::text "
        "FROM pg_attribute a JOIN pg_type st ON st.oid = a.atttypid "
        f"JOIN pg_type tt ON tt.oid = {new_type}::regtype "
        f"WHERE a.attrelid = to_regclass({regclass_arg(check.table)}) AND a.attname = {literal(check.column or '')} "
        "AND NOT a.attisdropped"
    )


def conversion_sample_sql(check: Check, limit: int, percent: float | None = None) -> list[str]:
    """Before PostgreSQL 16: convert up to `limit` rows one at a time, each in a subtransaction that an
    error rolls back (a PL/pgSQL block with EXCEPTION), the way ALTER COLUMN TYPE would assign them.
    OTHERS does not catch query_canceled, so the statement timeout still ends it."""
    table, col = check.table.sql, qi(check.column or "")
    expr = f"({check.using})" if check.using else col
    only_set = "" if check.using else f" WHERE {col} IS NOT NULL"
    block = f"""DO $migtool$
DECLARE
  _r record; _target {check.new_type}; _bad bigint := 0; _tried bigint := 0; _example text; _error text;
BEGIN
  FOR _r IN SELECT ctid AS tid FROM {table}{sample_clause(percent)}{only_set} LIMIT {int(limit)} LOOP
    _tried := _tried + 1;
    BEGIN
      SELECT {expr} INTO _target FROM {table} WHERE ctid = _r.tid;
    EXCEPTION WHEN OTHERS THEN
      _bad := _bad + 1;
      IF _error IS NULL THEN
        _error := SQLERRM;
        SELECT left({col}::text, {EXAMPLE_CHARS}) INTO _example FROM {table} WHERE ctid = _r.tid;
      END IF;
    END;
  END LOOP;
  PERFORM set_config({literal(RESULT_SETTING)}, json_build_object('count', _bad, 'scanned', _tried,
    'example', _example, 'error', _error)::text, true);
END
$migtool$"""
    return [block, f"SELECT current_setting({literal(RESULT_SETTING)})"]


def constraint_sql(table: Table, name: str) -> str:
    """A constraint's definition from the catalog (for VALIDATE CONSTRAINT of one added earlier)."""
    def cols(keys: str, rel: str) -> str:
        return (f"(SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(c.{keys}) WITH ORDINALITY AS k(num, ord) "
                f"JOIN pg_attribute a ON a.attrelid = c.{rel} AND a.attnum = k.num)")

    return (
        "SELECT json_build_object('contype', c.contype, 'validated', c.convalidated, "
        "'expression', CASE WHEN c.contype = 'c' THEN pg_get_expr(c.conbin, c.conrelid) END, "
        f"'columns', {cols('conkey', 'conrelid')}, 'ref_table', c.confrelid::regclass::text, "
        f"'ref_columns', {cols('confkey', 'confrelid')})::text "
        f"FROM pg_constraint c WHERE c.conrelid = to_regclass({regclass_arg(table)}) AND c.conname = {literal(name)}"
    )


def primary_key_sql(table: Table) -> str:
    """The primary key's columns, in key order (a FOREIGN KEY that names no columns references them)."""
    return (
        "SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]'::json)::text FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(num, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num "
        f"WHERE i.indrelid = to_regclass({regclass_arg(table)}) AND i.indisprimary"
    )


def violations_sql(check: Check, percent: float | None = None, ref_columns: tuple[str, ...] = ()) -> str:
    """The counting query for a check kind that counts offending rows."""
    if check.kind == NOT_NULL:
        return not_null_sql(check, percent)
    if check.kind == UNIQUE:
        return unique_sql(check, percent)
    if check.kind == FOREIGN_KEY:
        return foreign_key_sql(check, ref_columns, percent)
    if check.kind == CHECK:
        return check_constraint_sql(check, percent)
    if check.kind == TYPE_CHANGE:
        return input_valid_sql(check, percent)
    raise ValueError(f"no counting query for {check.kind}")
