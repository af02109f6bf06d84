"""What a rule is: an id that never changes, a severity, what it flags, and its own SQL examples."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from migtool.lint.context import Context
from migtool.lint.source import Statement

ALL_STATEMENTS = "*"


@dataclass(frozen=True)
class Hit:
    """One problem a rule found in one statement."""

    message: str  # one line: what and why
    fix: str  # the safe way, with SQL for this very table and column
    severity: str | None = None  # only to soften the rule's own severity for a likely-safe case


@dataclass(frozen=True)
class Rule:
    id: str  # kebab-case; part of the interface (JSON, suppressions, docs): never rename
    severity: str  # danger: data loss or breaks running code; warning: locks or rewrites; advice
    summary: str  # one line for --list-rules and SARIF
    why: str  # what goes wrong in production
    instead: str  # the safe alternative, short (docs, SARIF help)
    nodes: tuple[str, ...] = ()  # statement kinds the rule looks at (ALL_STATEMENTS for every one)
    # For ALTER TABLE: the subcommands the rule looks at (AT_AddColumn, ...); others are not checked.
    alter_subtypes: tuple[str, ...] = ()
    check: Callable[[Statement, Context], Iterable[Hit]] | None = None  # None: reported by the engine
    bad: tuple[str, ...] = ()  # SQL that must fire (on existing tables unless the SQL creates them)
    good: tuple[str, ...] = ()  # SQL that must not fire
    # SQL that creates what the `bad` examples change (for running them, and their fixes, on a real
    # database: tests/integration/test_lint_fixes_run.py).
    setup: str = ""
