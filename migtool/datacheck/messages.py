"""What a data check's result says to people: one line, and the fix for a certain failure. Pure."""

from __future__ import annotations

import json
from typing import Any

from migtool.datacheck.model import (
    CHECK,
    DERIVED,
    ESTIMATED,
    FOREIGN_KEY,
    NOT_NULL,
    OK,
    SAMPLE,
    TABLE_SIZE,
    TIMEOUT,
    TYPE_CHANGE,
    UNIQUE,
    UNKNOWN,
    VALIDATE,
    WILL_FAIL,
    Result,
    qi,
)


def count_text(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def rows_text(n: int | None, exact: bool = True) -> str:
    """1,204 / ~1.5M: people read row counts of big tables by magnitude."""
    if n is None:
        return "? rows"
    if n >= 1_000_000:
        shown = f"{n / 1_000_000:.1f}M"
    elif n >= 10_000:
        shown = f"{n / 1000:.0f}k"
    else:
        shown = f"{n:,}"
    return f"{'' if exact else '~'}{shown} row{'s' if n != 1 else ''}"


def size_text(n: int | None) -> str:
    if n is None:
        return "? bytes"
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


def example_text(example: Any) -> str:
    if example is None:
        return ""
    text = example if isinstance(example, str) else json.dumps(example, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _how(result: Result) -> str:
    if result.label == ESTIMATED:
        return f" (estimated from a sample of {count_text(result.scanned)} rows)"
    if result.label == SAMPLE:
        return f" (sample: {count_text(result.scanned)} rows tried)"
    return ""


def _keys(result: Result) -> str:
    return ", ".join(qi(k) for k in result.check.key_labels)


def describe(result: Result, timeout_ms: int = 5000) -> str:
    """'will fail: 1,204 rows of "User" have NULL "phone"' / 'checked: no NULLs in 1.5M rows'."""
    c, t = result.check, qi(result.check.table.shown) if result.check.table.raw is None else result.check.table.raw
    if result.result == UNKNOWN:
        if result.label == TIMEOUT:
            return f"could not check within {timeout_ms / 1000:g} s"
        return f"could not check: {result.detail}" if result.detail else "could not check"
    if c.kind == TABLE_SIZE:
        return f"locks {t}: {rows_text(result.rows, result.rows_exact)}, {size_text(result.size_bytes)}"
    ex = example_text(result.example)
    eg = f", e.g. {ex}" if ex else ""
    n = count_text(result.count)
    approx = "" if result.exact else "~"
    if result.result == WILL_FAIL:
        if c.kind == NOT_NULL:
            if c.value_sql == "true":
                return (f"will fail: {t} has {rows_text(result.count, result.exact)} and {qi(c.column or '')} "
                        f"would be NULL in all of them{_how(result)}")
            after = f" after the backfill at {c.derived_from}" if c.derived_from else ""
            return f"will fail: {approx}{n} rows of {t} have NULL {qi(c.column or '')}{after}{_how(result)}"
        if c.kind == UNIQUE:
            dup_rows = result.extra.get("rows")
            also = f" ({count_text(dup_rows)} rows)" if dup_rows else ""
            least = "at least " if not result.exact else ""
            groups = "group" if result.count == 1 else "groups"
            if isinstance(result.example, dict) and "key" in result.example:
                eg = f", e.g. {example_text(result.example['key'])} in {count_text(result.example.get('rows'))} rows"
            return f"will fail: {least}{n} duplicate {groups}{also} of ({_keys(result)}) in {t}{eg}{_how(result)}"
        if c.kind == FOREIGN_KEY:
            ref = c.ref_table.shown if c.ref_table else "?"
            return (f"will fail: {approx}{n} rows of {t} reference no row of {ref} ({_keys(result)}){eg}"
                    f"{_how(result)}")
        if c.kind == CHECK:
            return f"will fail: {approx}{n} rows of {t} violate CHECK ({c.expression}){eg}{_how(result)}"
        if c.kind == TYPE_CHANGE:
            if result.count is None:
                return f"will fail: {result.detail}"
            why = f" ({result.detail})" if result.detail else ""
            return (f"will fail: {approx}{n} values of {t}.{qi(c.column or '')} cannot become {c.new_type}"
                    f"{eg}{why}{_how(result)}")
    if result.result == OK:
        if result.label == DERIVED:
            return f"checked: {result.detail}" if result.detail else "checked: nothing in the way"
        where = f"{rows_text(result.rows, result.rows_exact)} of {t}"
        if result.label in (ESTIMATED, SAMPLE):
            where = f"a sample of {count_text(result.scanned)} of {rows_text(result.rows, result.rows_exact)} of {t}"
        prefix = "checked" if result.exact else "checked (estimated)"
        if c.kind == NOT_NULL:
            return f"{prefix}: no NULL {qi(c.column or '')} in {where}"
        if c.kind == UNIQUE:
            return f"{prefix}: no duplicate ({_keys(result)}) in {where}"
        if c.kind == FOREIGN_KEY:
            return f"{prefix}: no orphan rows in {where}"
        if c.kind == CHECK:
            return f"{prefix}: every row passes CHECK ({c.expression}) in {where}"
        if c.kind == TYPE_CHANGE:
            return f"{prefix}: every {qi(c.column or '')} converts to {c.new_type} in {where}"
        if c.kind == VALIDATE:
            return f"{prefix}: {result.detail}"
    return result.detail or result.result


def fix_for(result: Result) -> str:
    """What to do before this migration can run, with SQL for this table."""
    c = result.check
    t = c.table.sql
    if c.kind == NOT_NULL:
        col = qi(c.column or "")
        if c.value_sql == "true":
            return (f"Add the column with a DEFAULT (ALTER TABLE {t} ADD COLUMN {col} ... NOT NULL DEFAULT <value>), "
                    "or add it nullable, backfill it, then set NOT NULL.")
        return (f"Backfill first, in a migration (or batches) before this one: UPDATE {t} SET {col} = <value> "
                f"WHERE {col} IS NULL;  find them with: SELECT count(*) FROM {t} WHERE {col} IS NULL;")
    if c.kind == UNIQUE:
        keys = ", ".join(c.keys)
        return (f"Deduplicate first: SELECT {keys}, count(*) FROM {t} GROUP BY {keys} HAVING count(*) > 1; "
                "keep one row per key (merge or delete the others), then run the migration.")
    if c.kind == FOREIGN_KEY:
        ref = c.ref_table.sql if c.ref_table else "?"
        cols = ", ".join(f"c.{k}" for k in c.keys)
        return (f"Clean the orphans first: SELECT {cols} FROM {t} c WHERE NOT EXISTS (SELECT 1 FROM {ref} p WHERE ...); "
                "delete them, point them at an existing row, or set the column NULL.")
    if c.kind == CHECK:
        return f"Fix the rows first: SELECT * FROM {t} WHERE ({c.expression}) IS FALSE;  update or delete them."
    if c.kind == TYPE_CHANGE:
        col = qi(c.column or "")
        if result.count is None:
            return f"Write the conversion: ALTER TABLE {t} ALTER COLUMN {col} TYPE {c.new_type} USING <expression>;"
        return (f"Clean the values first (or give a USING that handles them): SELECT {col} FROM {t} "
                f"WHERE {col} IS NOT NULL LIMIT 20;  update the ones that do not fit {c.new_type}.")
    return "Fix the data, then run the migration."


__all__ = ["describe", "fix_for", "rows_text", "size_text", "OK", "UNKNOWN", "VALIDATE"]
