"""What a data check is and what it found. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Check kinds: part of the JSON interface (finding.data.check), never rename.
NOT_NULL = "not-null"
UNIQUE = "unique"
FOREIGN_KEY = "foreign-key"
CHECK = "check"
TYPE_CHANGE = "type-change"
VALIDATE = "validate-constraint"  # a constraint added by an applied migration: its definition is in the catalog
TABLE_SIZE = "table-size"

WILL_FAIL = "will-fail"
OK = "ok"
UNKNOWN = "unknown"

# How a number was obtained (finding.data.label).
EXACT = "exact"
ESTIMATED = "estimated"  # scaled up from a TABLESAMPLE, or from the planner's statistics
SAMPLE = "sample"  # a bounded number of rows tried one by one (type changes before PostgreSQL 16)
DERIVED = "derived"  # decided from the earlier statements of the deploy, without reading rows
TIMEOUT = "timeout"
UNCHECKED = "unchecked"  # the check could not run (a column not there yet, a lock held by someone else)


def qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Table:
    """A table as the migration names it (its name in the database when renamed earlier in the deploy)."""

    name: str
    schema: str | None = None
    raw: str | None = None  # SQL as the catalog prints it (regclass::text), already quoted where needed

    @property
    def sql(self) -> str:
        if self.raw is not None:
            return self.raw
        return f"{qi(self.schema)}.{qi(self.name)}" if self.schema else qi(self.name)

    @property
    def shown(self) -> str:
        if self.raw is not None:
            return self.raw
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class Known:
    """An answer found without reading rows (from the deploy's earlier statements), or why there is none."""

    result: str
    reason: str
    count: int | None = None


@dataclass
class Check:
    kind: str
    file: str
    line: int
    statement: str  # the statement, on one line (for messages)
    table: Table
    rules: tuple[str, ...] = ()  # lint rule ids whose finding on this statement this check annotates
    column: str | None = None  # not-null, type-change: the column as the database names it
    # not-null: the SQL expression whose NULLs make the statement fail; the column itself unless an
    # earlier statement of the deploy filled it (then e.g. coalesce("phone", '')), "NULL" for a
    # column added without a default.
    value_sql: str | None = None
    keys: tuple[str, ...] = ()  # unique: key expressions; foreign-key: the referencing columns (SQL)
    key_labels: tuple[str, ...] = ()  # names for the keys in examples
    predicate: str | None = None  # unique: a partial index's WHERE
    nulls_distinct: bool = True
    ref_table: Table | None = None  # foreign-key
    ref_columns: tuple[str, ...] = ()  # empty: the referenced table's primary key (from the catalog)
    ref_is_new: bool = False  # the referenced table is created in this deploy: it has no rows yet
    expression: str | None = None  # check: the CHECK expression
    example_columns: tuple[str, ...] = ()  # check: columns the expression reads (shown in the example)
    new_type: str | None = None  # type-change
    using: str | None = None  # type-change: the USING expression
    using_is_plain_cast: bool = False  # USING is "col"::new_type: the same as a text input check
    constraint: str | None = None  # validate-constraint: the constraint's name
    known: Known | None = None
    position: tuple[int, int] = (0, 0)  # (line, column) of the statement, as lint findings give it
    derived_from: str | None = None  # not-null: where the deploy fills the column (file:line)
    # validate-constraint: columns this deploy changed before it -> SQL true where they are NULL then
    # ("" when that cannot be followed); the constraint's definition is known only at run time.
    column_nulls: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Result:
    check: Check
    result: str  # will-fail | ok | unknown
    count: int | None = None  # rows that make it fail (duplicate groups for unique); an estimate unless exact
    example: Any = None  # one offending key or value
    exact: bool = True
    label: str = EXACT
    rows: int | None = None  # rows in the table
    rows_exact: bool = False
    size_bytes: int | None = None  # the table with its indexes and TOAST
    scanned: int | None = None  # rows read by a sample
    detail: str = ""  # the error of the first unconvertible value, or why the check could not run
    elapsed_ms: int = 0
    text: str = ""  # the one line shown to people
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.result == UNKNOWN:
            self.exact = False
            if self.label == EXACT:
                self.label = UNCHECKED

    @property
    def certain_failure(self) -> bool:
        return self.result == WILL_FAIL

    def to_data(self) -> dict[str, Any]:
        """The finding's `data` field."""
        return {
            "check": self.check.kind,
            "result": self.result,
            "count": self.count,
            "example": self.example,
            "exact": self.exact,
            "label": self.label,
            "rows": self.rows,
            "rows_exact": self.rows_exact,
            "size_bytes": self.size_bytes,
            "detail": self.detail or None,
            "text": self.text,
            "elapsed_ms": self.elapsed_ms,
            "table": self.check.table.shown,
        }
