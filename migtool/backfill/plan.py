"""The pure core of a backfill: which SQL one batch runs, how big the next batch is, how long to
back off. No I/O here; catalog.py fills TableInfo from the database.

One batch is one statement over the next range of keys:

    WITH migtool_range AS MATERIALIZED (SELECT k FROM t WHERE k > $last ORDER BY k LIMIT $n),
         migtool_last AS MATERIALIZED (SELECT the greatest k of migtool_range),
         migtool_done AS (UPDATE t SET col = expr
                          WHERE k > $last AND k <= (SELECT k FROM migtool_last) AND (cond) RETURNING 1)
    SELECT updated, scanned, last key (as text)

- keyset, never OFFSET: each batch starts from an index lookup on the primary key, and the range
  is found from the key index alone (an index-only scan on a vacuumed table);
- the UPDATE is then one index range scan, with the condition as a filter. Joining the UPDATE to
  a list of keys instead costs one index descent per row and measured 2-3x slower;
- the condition is checked by the UPDATE itself, so a row an application wrote meanwhile
  (PostgreSQL re-evaluates the WHERE on the new row version) is left alone, not overwritten;
- the last key comes back as text and goes back in as text cast to the key's type, which works
  for integers, text, uuid and composite keys alike.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass

from psycopg import sql

from migtool.backfill.expressions import Assignment

AUTO_START = 1000
AUTO_MIN, AUTO_MAX = 10, 50_000
TARGET_SECONDS = 0.05  # --batch-size auto keeps each batch near this: a writer queued behind a batch
# waits about this long. Measured (bench/backfill_bench.py): 100 ms gave writers a p99 over 50 ms
# on a loaded machine; 50 ms kept it near 25 ms at the same throughput within noise.
PROGRESS_TABLE = "migtool_backfill"


@dataclass(frozen=True)
class KeyColumn:
    name: str
    type: str  # format_type() output, e.g. "bigint", "uuid", "character varying(30)"


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    key: tuple[KeyColumn, ...]
    columns: tuple[str, ...]
    generated: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


def key_type(type_name: str) -> sql.SQL:
    """The key's type for a cast. It comes from format_type() in the catalog, which quotes names
    that need it, never from the user; we still refuse anything that is not a plain type name."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ ()[],.\"")
    if not type_name or set(type_name) - allowed:
        raise ValueError(f"unexpected key type name {type_name!r}")
    return sql.SQL(type_name)


def _escape_percent(text: str) -> str:
    return text.replace("%", "%%")


def _row(parts: list[sql.Composable]) -> sql.Composable:
    return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(", ").join(parts))


@dataclass(frozen=True)
class BatchPlan:
    table: TableInfo
    assignments: tuple[Assignment, ...]
    condition: str  # reprinted by expressions.parse_where, or built by default_condition

    def batch_query(self, first: bool) -> sql.Composed:
        """The batch statement; parameters (by name): k0, k1... the last key's values as text
        (unless first), and limit."""
        t = self.table
        keys = [sql.Identifier(k.name) for k in t.key]
        aliases = [sql.Identifier(f"migtool_k{i}") for i in range(len(keys))]
        # This statement runs with parameters, so a `%` of the user's (`src % 7`, `LIKE 'a%'`)
        # must be doubled or psycopg would read it as a placeholder.
        cond = sql.SQL("(") + sql.SQL(_escape_percent(self.condition)) + sql.SQL(")")
        lower = None
        if not first:
            bounds = [sql.SQL("CAST({} AS {})").format(sql.Placeholder(f"k{i}"), key_type(k.type))
                      for i, k in enumerate(t.key)]
            lower = sql.SQL("{} > {}").format(_row(list(keys)), _row(bounds))
        # The upper bound as an index condition: on the leading key column alone (a row compared
        # with a sub-select is not one), then exactly, as a row, for composite keys.
        upper = sql.SQL("{} <= (SELECT migtool_k0 FROM migtool_last)").format(keys[0])
        if len(keys) > 1:
            upper += sql.SQL(" AND {} <= (SELECT {} FROM migtool_last)").format(
                _row(list(keys)), sql.SQL(", ").join(aliases))
        select_keys = sql.SQL(", ").join(sql.SQL("{} AS {}").format(k, a) for k, a in zip(keys, aliases, strict=True))
        order = sql.SQL(", ").join(keys)
        sets = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(a.column),
                                                           sql.SQL(_escape_percent(a.expression)))
                                  for a in self.assignments)
        last_cols = sql.SQL(", ").join(sql.SQL("{}::text").format(a) for a in aliases)
        last_order = sql.SQL(", ").join(sql.SQL("{} DESC").format(a) for a in aliases)
        return sql.SQL(
            "WITH migtool_range AS MATERIALIZED (\n"
            "  SELECT {select_keys} FROM {table}\n"
            "  {range_where}ORDER BY {order} LIMIT {limit}\n"
            "), migtool_last AS MATERIALIZED (\n"
            "  SELECT * FROM migtool_range ORDER BY {last_order} LIMIT 1\n"
            "), migtool_done AS (\n"
            "  UPDATE {table} SET {sets}\n"
            "  WHERE {update_where}\n"
            "  RETURNING 1\n"
            ")\n"
            "SELECT (SELECT count(*) FROM migtool_done) AS updated,\n"
            "       (SELECT count(*) FROM migtool_range) AS scanned,\n"
            "       (SELECT ARRAY[{last_cols}] FROM migtool_last) AS last_key"
        ).format(select_keys=select_keys, table=t.ident(),
                 range_where=sql.SQL("WHERE {} ").format(lower) if lower else sql.SQL(""), order=order,
                 limit=sql.Placeholder("limit"), last_order=last_order, sets=sets,
                 update_where=sql.SQL(" AND ").join([p for p in (lower, upper, cond) if p is not None]),
                 last_cols=last_cols)

    def params(self, last_key: list[str] | None, limit: int) -> dict:
        out: dict = {f"k{i}": v for i, v in enumerate(last_key or [])}
        out["limit"] = limit
        return out

    def remaining_query(self) -> sql.Composed:
        return sql.SQL("SELECT count(*) FROM {} WHERE ({})").format(self.table.ident(), sql.SQL(self.condition))

    def count_query(self) -> sql.Composed:
        return sql.SQL("SELECT count(*) FROM {}").format(self.table.ident())

    def estimate_query(self) -> sql.Composed:
        return sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {} WHERE ({})").format(
            self.table.ident(), sql.SQL(self.condition))

    def job_id(self) -> str:
        """Same table, same --set, same --where: the same job (its progress can be resumed)."""
        text = json.dumps([self.table.schema, self.table.name, [[a.column, a.expression] for a in self.assignments],
                           self.condition])
        return f"{self.table.qualified}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def default_condition(assignments: list[Assignment] | tuple[Assignment, ...]) -> str:
    """Without --where, a row is left to do while its (first) --set column IS NULL: that makes a
    re-run after a crash touch only what is left."""
    return f"{sql.Identifier(assignments[0].column).as_string(None)} IS NULL"


def check_assignments(table: TableInfo, assignments: list[Assignment]) -> str | None:
    """Why these assignments cannot run on this table, or None."""
    for a in assignments:
        if a.column not in table.columns:
            return f"{table.qualified} has no column {a.column!r} (columns: {', '.join(table.columns)})"
        if any(a.column == k.name for k in table.key):
            return (f"--set changes primary key column {a.column!r}: the keyset walk would lose its place; "
                    "backfill into a new column instead")
        if a.column in table.generated:
            return f"{a.column!r} is a generated column: PostgreSQL computes it"
    return None


def render(query: sql.Composed, params: dict, conn=None) -> str:
    """The batch SQL with its parameters shown as literals (for --dry-run and logs)."""
    text = query.as_string(conn)
    for name, value in params.items():
        text = text.replace(f"%({name})s", sql.Literal(value).as_string(conn))
    return text.replace("%%", "%")


# ---------------------------------------------------------------- sizing and backoff

@dataclass
class BatchSizer:
    """The size of the next batch.

    Fixed mode (`--batch-size N`): N, halved after each timeout, grown back by half after each
    success. Auto mode: scaled towards TARGET_SECONDS per batch, at most doubling or halving at a
    time so one odd batch (a cold cache, a checkpoint) does not swing it.
    """

    size: int
    auto: bool = False
    ceiling: int = AUTO_MAX
    floor: int = 1

    @classmethod
    def from_option(cls, option: str | int) -> BatchSizer:
        if option == "auto":
            return cls(size=AUTO_START, auto=True, ceiling=AUTO_MAX, floor=AUTO_MIN)
        n = int(option)
        return cls(size=n, auto=False, ceiling=n, floor=1)

    def after_success(self, seconds: float, scanned: int) -> int:
        if self.auto:
            if scanned >= self.size and seconds > 0:  # a short last batch says nothing about speed
                factor = min(2.0, max(0.5, TARGET_SECONDS / seconds))
                self.size = int(self.size * factor)
        else:
            self.size = int(self.size * 1.5) + 1
        self.size = max(self.floor if self.auto else 1, min(self.ceiling, self.size))
        return self.size

    def after_timeout(self) -> int:
        self.size = max(1, self.size // 2)
        return self.size

    def shrink(self) -> int:
        """Writers were waiting on us: smaller batches hold locks for less time."""
        self.size = max(1, self.size // 2)
        return self.size


def backoff_seconds(attempt: int, base: float = 0.1, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter for the attempt-th consecutive failure (1-based)."""
    r = (rng or random).uniform(0.5, 1.0)
    return min(cap, base * (2 ** (attempt - 1))) * r


def eta_seconds(done: int, total: int | None, rate: float) -> float | None:
    if not total or rate <= 0:
        return None
    return max(0.0, (total - done) / rate)
