"""Run data checks against the database: read-only, bounded in time, never waiting on a lock.

Each query runs in its own `READ ONLY` transaction (REPEATABLE READ, so a sample and its row count
see the same snapshot) with `statement_timeout` set to what is left of the check's budget and a
tiny `lock_timeout`, in a session named `migtool datacheck`, and is rolled back. The queries are
plain SELECTs: they take ACCESS SHARE on what they read and nothing else, and a READ ONLY
transaction could not write even if one tried.

A check that runs out of time says "could not check within 5 s"; an error in a check (a column
that is not there yet, a type the deploy creates) makes that check unknown. Neither is raised:
only an unreachable database is.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from migtool.datacheck import queries
from migtool.datacheck.messages import describe
from migtool.datacheck.model import (
    CHECK,
    DERIVED,
    ESTIMATED,
    EXACT,
    FOREIGN_KEY,
    NOT_NULL,
    OK,
    SAMPLE,
    TABLE_SIZE,
    TIMEOUT,
    TYPE_CHANGE,
    UNCHECKED,
    UNIQUE,
    UNKNOWN,
    VALIDATE,
    WILL_FAIL,
    Check,
    Known,
    Result,
    Table,
    qi,
)
from migtool.errors import EnvironmentProblem

APPLICATION_NAME = "migtool datacheck"


@dataclass(frozen=True)
class Settings:
    timeout_ms: int = 5000  # per check, everything included (config: datacheck_timeout)
    lock_timeout_ms: int = 50  # never queue behind a migration or a VACUUM FULL
    large_rows: int = 1_000_000  # above this, sample first: an estimate is in hand if the exact scan is too slow
    sample_rows: int = 100_000  # about how many rows a TABLESAMPLE reads
    conversion_rows: int = 1000  # rows converted one by one for a type change before PostgreSQL 16
    exact_count_bytes: int = 64 << 20  # tables up to this heap size get an exact count(*) for their rows


class QueryTimeout(Exception):
    pass


class LockBusy(Exception):
    pass


class QueryError(Exception):
    pass


class Executor(Protocol):
    server_version_num: int

    def value(self, statements: Sequence[str], timeout_ms: int) -> str: ...
    def close(self) -> None: ...


def _prelude(timeout_ms: int, lock_timeout_ms: int) -> list[str]:
    return ["BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            f"SET LOCAL statement_timeout = {max(1, int(timeout_ms))}",
            f"SET LOCAL lock_timeout = {max(1, int(lock_timeout_ms))}"]


class PsycopgExecutor:
    """For the direct target: one psycopg session for all checks."""

    def __init__(self, connection, lock_timeout_ms: int):
        self.conn = connection
        self.lock_timeout_ms = lock_timeout_ms
        self.conn.execute(f"SET application_name = {queries.literal(APPLICATION_NAME)}")
        self.server_version_num = int(self.conn.execute("SHOW server_version_num").fetchone()[0])

    def value(self, statements: Sequence[str], timeout_ms: int) -> str:
        import psycopg

        try:
            for sql in _prelude(timeout_ms, self.lock_timeout_ms):
                self.conn.execute(sql)
            for sql in statements[:-1]:
                self.conn.execute(sql, prepare=False)
            row = self.conn.execute(statements[-1], prepare=False).fetchone()
            return "null" if row is None else row[0]
        except psycopg.errors.QueryCanceled:
            raise QueryTimeout() from None
        except psycopg.errors.LockNotAvailable:
            raise LockBusy() from None
        except psycopg.OperationalError as exc:
            raise EnvironmentProblem(f"the database went away during a data check: {_first_line(exc)}",
                                     hint="check it with `migtool doctor`") from None
        except psycopg.Error as exc:
            raise QueryError(_first_line(exc)) from None
        finally:
            if not self.conn.closed:
                try:
                    self.conn.execute("ROLLBACK")
                except psycopg.Error:
                    pass

    def close(self) -> None:
        self.conn.close()


class PsqlExecutor:
    """For the compose target (or any Database): one psql run per query, inside the postgres service."""

    def __init__(self, db, lock_timeout_ms: int):
        self.db = db
        self.lock_timeout_ms = lock_timeout_ms
        self.server_version_num = int(db.server_version_num())

    def value(self, statements: Sequence[str], timeout_ms: int) -> str:
        script = [f"SET application_name = {queries.literal(APPLICATION_NAME)}",
                  *_prelude(timeout_ms, self.lock_timeout_ms), *statements, "ROLLBACK"]
        text = "".join(s.rstrip().rstrip(";") + ";\n" for s in script)
        proc = self.db.tool(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(text.encode(), timeout=timeout_ms / 1000 + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise QueryTimeout() from None
        message = err.decode(errors="replace")
        if proc.returncode != 0:
            if "statement timeout" in message:
                raise QueryTimeout()
            if "lock timeout" in message:
                raise LockBusy()
            from migtool.database import UNREACHABLE

            lowered = message.lower()
            if any(s in lowered for s in (*UNREACHABLE, "the database system is")):
                raise EnvironmentProblem(f"database not reachable ({self.db.describe()}) during a data check",
                                         hint="start it and check with `migtool doctor`")
            lines = [line for line in message.splitlines() if "ERROR" in line] or message.splitlines() or ["?"]
            raise QueryError(lines[0].split("ERROR:", 1)[-1].strip())
        lines = [line for line in out.decode().splitlines() if line.strip()]
        return lines[-1] if lines else "null"  # no row

    def close(self) -> None:
        return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_executor(db, settings: Settings) -> Executor:
    """psycopg for a database reached directly, psql inside the service for compose."""
    if hasattr(db, "connect"):
        return PsycopgExecutor(db.connect(), settings.lock_timeout_ms)
    return PsqlExecutor(db, settings.lock_timeout_ms)


@dataclass
class TableInfo:
    exists: bool
    rows: int | None = None
    rows_exact: bool = False
    size_bytes: int | None = None

    def large(self, settings: Settings) -> bool:
        return not self.rows_exact and (self.rows or 0) > settings.large_rows


class _Budget:
    def __init__(self, timeout_ms: int):
        self.timeout_ms = timeout_ms
        self.deadline = time.monotonic() + timeout_ms / 1000

    def left_ms(self) -> int:
        left = int((self.deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise QueryTimeout()
        return left


class Runner:
    def __init__(self, executor: Executor, settings: Settings | None = None):
        self.ex = executor
        self.settings = settings or Settings()
        self.tables: dict[str, TableInfo] = {}

    # ---------------------------------------------------------------- public
    def run(self, checks: Sequence[Check]) -> list[Result]:
        return [self.run_one(c) for c in checks]

    def run_one(self, check: Check) -> Result:
        started = time.monotonic()
        budget = _Budget(self.settings.timeout_ms)
        try:
            result = self._run(check, budget)
        except QueryTimeout:
            result = Result(check, UNKNOWN, exact=False, label=TIMEOUT,
                            detail=f"could not check within {_seconds(self.settings.timeout_ms)}")
        except LockBusy:
            result = Result(check, UNKNOWN, exact=False, label=UNCHECKED,
                            detail="another session holds a strong lock on the table; not waiting for it")
        except QueryError as exc:
            result = Result(check, UNKNOWN, exact=False, label=UNCHECKED, detail=str(exc))
        info = self.tables.get(check.table.sql)
        if info is not None and result.rows is None:
            result.rows, result.rows_exact, result.size_bytes = info.rows, info.rows_exact, info.size_bytes
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        result.text = describe(result, self.settings.timeout_ms)
        return result

    # ---------------------------------------------------------------- helpers
    def _json(self, statements: str | Sequence[str], budget: _Budget) -> Any:
        if isinstance(statements, str):
            statements = [statements]
        return json.loads(self.ex.value(statements, budget.left_ms()))

    def _table(self, table: Table, budget: _Budget) -> TableInfo:
        key = table.sql
        if key not in self.tables:
            raw = self._json(queries.table_info_sql(table), budget)
            if not raw["exists"]:
                self.tables[key] = TableInfo(False)
            else:
                info = TableInfo(True, rows=raw["reltuples"], size_bytes=raw["total_bytes"])
                # Never analysed (reltuples -1), or small enough to count for real.
                if (raw["reltuples"] or 0) < 0 or (raw["heap_bytes"] or 0) <= self.settings.exact_count_bytes:
                    try:
                        info.rows = self._json(queries.count_rows_sql(table), budget)["count"]
                        info.rows_exact = True
                    except QueryTimeout:
                        info.rows = max(raw["reltuples"] or 0, 0) or None
                self.tables[key] = info
        return self.tables[key]

    def _run(self, check: Check, budget: _Budget) -> Result:
        info = self._table(check.table, budget)
        if not info.exists:
            return Result(check, UNKNOWN, exact=False,
                          detail=f"{check.table.shown} is not in the database (created by a migration not applied yet?)")
        if check.kind == TABLE_SIZE:
            return Result(check, OK, exact=info.rows_exact, label=EXACT if info.rows_exact else ESTIMATED)
        if check.known is not None:
            return self._known(check, check.known, info)
        if check.kind == VALIDATE:
            return self._validate(check, budget)
        if check.kind == TYPE_CHANGE:
            return self._type_change(check, info, budget)
        if info.rows_exact and info.rows == 0:
            return Result(check, OK, count=0, label=EXACT)
        if check.kind == FOREIGN_KEY:
            ref_columns = check.ref_columns
            if not ref_columns and not check.ref_is_new:
                assert check.ref_table is not None
                ref_columns = tuple(self._json(queries.primary_key_sql(check.ref_table), budget))
                if len(ref_columns) != len(check.keys):
                    return Result(check, UNKNOWN, exact=False,
                                  detail=f"{check.ref_table.shown} has no primary key matching the foreign key")
            return self._count(check, info, budget, lambda p: queries.foreign_key_sql(check, ref_columns, p))
        return self._count(check, info, budget, lambda p: queries.violations_sql(check, p))

    def _known(self, check: Check, known: Known, info: TableInfo) -> Result:
        return Result(check, known.result, count=known.count, exact=known.result != UNKNOWN, label=DERIVED,
                      detail=known.reason)

    def _count(self, check: Check, info: TableInfo, budget: _Budget, build: Callable[[float | None], str]) -> Result:
        """Exact when it fits in the budget; on a large table a TABLESAMPLE first, so that an estimate
        is at hand when the exact scan does not finish in time."""
        sampled: Result | None = None
        if info.large(self.settings):
            percent = queries.sample_percent(info.rows or 0, self.settings.sample_rows)
            raw = self._json(build(percent), budget)
            sampled = self._from_sample(check, raw, info)
        try:
            raw = self._json(build(None), budget)
        except QueryTimeout:
            if sampled is None:
                raise
            return sampled
        count = int(raw["count"] or 0)
        return Result(check, WILL_FAIL if count else OK, count=count, example=raw.get("example"), label=EXACT,
                      extra={"rows": raw["rows"]} if "rows" in raw else {})

    def _from_sample(self, check: Check, raw: dict, info: TableInfo) -> Result:
        found, scanned = int(raw["count"] or 0), int(raw.get("scanned") or 0)
        if check.kind == UNIQUE:
            # A duplicate seen in a sample is real; none seen says little about all rows.
            return Result(check, WILL_FAIL if found else UNKNOWN, count=found or None, example=raw.get("example"),
                          exact=False, label=ESTIMATED, scanned=scanned,
                          detail="" if found else "no duplicates in a sample; the exact check did not finish in time")
        estimate = round(found * (info.rows or 0) / scanned) if scanned else 0
        if found:
            estimate = max(estimate, found)
        return Result(check, WILL_FAIL if found else OK, count=estimate, example=raw.get("example"), exact=False,
                      label=ESTIMATED, scanned=scanned)

    def _validate(self, check: Check, budget: _Budget) -> Result:
        raw = self._json(queries.constraint_sql(check.table, check.constraint or ""), budget)
        if raw is None:
            return Result(check, UNKNOWN, exact=False, detail=f"no constraint {check.constraint} on {check.table.shown}")
        if raw["validated"]:
            return Result(check, OK, count=0, label=DERIVED, detail="the constraint is validated already")
        changed = check.column_nulls
        if raw["contype"] == "c":
            import pglast

            from migtool.datacheck.plan import column_refs, not_null_column

            expression = raw["expression"]
            try:
                node = pglast.parse_sql(f"SELECT {expression}")[0].stmt.targetList[0].val
                refs, not_null = column_refs(node), not_null_column(node)
            except Exception:  # noqa: BLE001 - an expression we cannot read is still checked as written
                refs, not_null = None, None
            if not_null is not None:
                # CHECK (col IS NOT NULL): count the NULLs as the deploy's earlier statements leave them.
                null_sql = changed.get(not_null, f"{qi(not_null)} IS NULL")
                inner = replace(check, kind=NOT_NULL, column=not_null, value_sql=null_sql)
                if not null_sql:
                    inner.known = Known(UNKNOWN, f"{not_null} is changed earlier in this deploy in a way that "
                                                 "cannot be followed: cannot know")
                elif null_sql == "false":
                    inner.known = Known(OK, f"every {not_null} gets a value earlier in this deploy", count=0)
            else:
                inner = replace(check, kind=CHECK, expression=expression, example_columns=tuple(sorted(refs or ())))
                touched = sorted(set(changed) & (refs or set())) if refs is not None else sorted(changed)
                if touched:
                    inner.known = Known(UNKNOWN, f"{', '.join(touched)} is changed earlier in this deploy: cannot know")
        elif raw["contype"] == "f":
            cols = tuple(raw["columns"] or ())
            inner = replace(check, kind=FOREIGN_KEY, keys=tuple(qi(c) for c in cols), key_labels=cols,
                            ref_table=Table(raw["ref_table"], raw=raw["ref_table"]),
                            ref_columns=tuple(raw["ref_columns"] or ()))
            touched = sorted(set(changed) & set(cols))
            if touched:
                inner.known = Known(UNKNOWN, f"{', '.join(touched)} is changed earlier in this deploy: cannot know")
        else:
            return Result(check, OK, count=0, label=DERIVED, detail="only CHECK and FOREIGN KEY constraints are validated")
        result = self._run(inner, budget)
        result.check = inner
        return result

    def _type_change(self, check: Check, info: TableInfo, budget: _Budget) -> Result:
        types = self._json(queries.type_info_sql(check), budget)
        if types is None:
            return Result(check, UNKNOWN, exact=False, detail=f"column {check.column} is not in {check.table.shown}")
        extra = {"from_type": types["source"], "to_type": types["target"]}
        if check.using is None and not types["assignable"]:
            return Result(check, WILL_FAIL, count=None, label=EXACT, extra=extra,
                          detail=f"PostgreSQL has no automatic cast from {types['source']} to {types['target']}: the "
                                 "statement fails whatever the data (it needs a USING clause)")
        if check.using is None and types["never_fails"]:
            return Result(check, OK, count=0, label=DERIVED, extra=extra,
                          detail=f"every {types['source']} value converts to {types['target']}")
        if info.rows_exact and info.rows == 0:
            return Result(check, OK, count=0, label=EXACT, extra=extra)
        text_source = types["source_category"] == "S"
        if self.ex.server_version_num >= 160000 and text_source and (check.using is None or check.using_is_plain_cast):
            result = self._count(check, info, budget, lambda p: queries.input_valid_sql(check, p))
        else:
            result = self._conversion_sample(check, info, budget)
        result.extra.update(extra)
        return result

    def _conversion_sample(self, check: Check, info: TableInfo, budget: _Budget) -> Result:
        limit = self.settings.conversion_rows
        percent = None
        if info.large(self.settings):
            # Spread the tried rows over the table instead of its first pages.
            percent = queries.sample_percent(info.rows or 0, limit * 4)
        raw = self._json(queries.conversion_sample_sql(check, limit, percent), budget)
        bad, tried = int(raw["count"] or 0), int(raw["scanned"] or 0)
        exact = percent is None and tried < limit
        detail = raw.get("error") or ""
        if exact:
            return Result(check, WILL_FAIL if bad else OK, count=bad, example=raw.get("example"), label=EXACT,
                          detail=detail)
        estimate = max(bad, round(bad * (info.rows or tried) / tried)) if tried else 0
        return Result(check, WILL_FAIL if bad else OK, count=estimate, example=raw.get("example"), exact=False,
                      label=SAMPLE, scanned=tried, detail=detail)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:g} s"


def parse_duration_ms(text: str) -> int:
    """'5s', '500ms', '1min', '5' (seconds) -> milliseconds."""
    text = str(text).strip()
    for suffix, factor in (("ms", 1), ("min", 60_000), ("s", 1000)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text) * 1000)


__all__ = ["APPLICATION_NAME", "NOT_NULL", "Runner", "Settings", "open_executor", "parse_duration_ms"]
