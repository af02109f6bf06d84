"""Does a column default force PostgreSQL to rewrite the table?

Since PostgreSQL 11, ADD COLUMN with a default that is not volatile stores the value once in the
catalog (no rewrite); a volatile default (random(), gen_random_uuid(), clock_timestamp(),
nextval()) must be computed per row, so the whole table is rewritten under ACCESS EXCLUSIVE. now()
and CURRENT_TIMESTAMP are STABLE: evaluated once, no rewrite. Without a database we cannot look a
function up in pg_proc, so a function we do not know is reported as "unknown" (treated like
volatile, with a message that says so).
"""

from __future__ import annotations

from typing import Any

VOLATILE = frozenset({
    "random", "random_normal", "setseed", "gen_random_uuid", "gen_random_bytes", "uuid_generate_v1",
    "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7", "clock_timestamp", "timeofday",
    "nextval", "setval", "currval", "lastval", "txid_current", "pg_current_xact_id",
})

# Stable or immutable built-ins that show up in defaults.
NOT_VOLATILE = frozenset({
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "current_schema",
    "current_database", "current_user", "session_user", "to_timestamp", "to_date", "to_char", "to_number",
    "date_trunc", "make_date", "make_time", "make_timestamp", "make_timestamptz", "make_interval",
    "jsonb_build_object", "json_build_object", "jsonb_build_array", "json_build_array", "to_jsonb",
    "to_json", "array_fill", "lower", "upper", "concat", "concat_ws", "md5", "length", "btrim", "trim",
    "replace", "substring", "left", "right", "abs", "round", "floor", "ceil", "greatest", "least",
    "timezone", "age", "date_part", "extract", "int4", "int8", "numeric", "text", "uuid_nil",
})

OK, UNKNOWN, VOLATILE_KIND = "ok", "unknown", "volatile"
_ORDER = {OK: 0, UNKNOWN: 1, VOLATILE_KIND: 2}


def _walk(node: Any, found: list[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "FuncCall":
                parts = [p.get("String", {}).get("sval", "") for p in value.get("funcname", ())]
                name = parts[-1].lower() if parts else "?"
                if name in VOLATILE:
                    found.append((VOLATILE_KIND, name))
                elif name not in NOT_VOLATILE:
                    found.append((UNKNOWN, name))
            elif key == "SubLink":
                found.append((UNKNOWN, "a subquery"))
                continue
            _walk(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)


def classify_default(expr: dict[str, Any] | None) -> tuple[str, str | None]:
    """("ok" | "unknown" | "volatile", the function that decided it)."""
    if not expr:
        return OK, None
    found: list[tuple[str, str]] = []
    _walk(expr, found)
    if not found:
        return OK, None
    kind, name = max(found, key=lambda item: _ORDER[item[0]])
    return kind, name
