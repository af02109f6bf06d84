"""Pieces of advice several rules share, and the text helpers that build fix SQL from the source."""

from __future__ import annotations

import re

from migtool.lint.source import Statement
from migtool.lint.sql import Node, qi

LOCK_TIMEOUT = "SET lock_timeout = '5s';"
OWN_FILE = ("in a migration file of its own, as its only statement (Prisma runs a file with several "
            "statements as one transaction, and CONCURRENTLY cannot run in a transaction)")
BACKUP = "take a backup first (migtool backup)"


def allow_line(rule_id: str) -> str:
    return f"-- migtool:allow {rule_id} <why this is safe now>"


def steps(*lines: str) -> str:
    """Numbered steps, one per line; lines starting with whitespace continue the previous step."""
    out, n = [], 0
    for line in lines:
        if line.startswith(" "):
            out.append("   " + line.strip())
        else:
            n += 1
            out.append(f"{n}. {line}")
    return "\n".join(out)


def clause_end(data: bytes, pos: int, end: int) -> int:
    """Offset of the first ',' at parenthesis depth 0 at or after pos (quotes respected), else end."""
    depth, i = 0, pos
    while i < end:
        ch = data[i]
        if ch in (0x27, 0x22):  # skip a quoted literal or identifier
            i += 1
            while i < end:
                if data[i] == ch:
                    if i + 1 < end and data[i + 1] == ch:
                        i += 2
                        continue
                    break
                i += 1
        elif ch == 0x28:
            depth += 1
        elif ch == 0x29:
            if depth == 0:
                return i
            depth -= 1
        elif ch == 0x2C and depth == 0:
            return i
        i += 1
    return end


def clause_text(stmt: Statement, location: int | None, stop: int | None = None) -> str | None:
    """The source of one ALTER TABLE clause starting at a parse-tree location (e.g. a constraint)."""
    if location is None or not stmt.start <= location < stmt.end:
        return None
    end = clause_end(stmt.data, location, stmt.end)
    if stop is not None and location < stop < end:
        end = stop
    return " ".join(stmt.source(location, end).split())


def default_text(stmt: Statement, default_con: dict, later_locations: list[int]) -> str | None:
    """The expression after DEFAULT, as written."""
    loc = default_con.get("location")
    if loc is None:
        return None
    stop = min((x for x in later_locations if x > loc), default=None)
    text = clause_text(stmt, loc, stop)
    if not text or not text.upper().startswith("DEFAULT"):
        return None
    return text[len("DEFAULT"):].strip() or None


def constraint_clause(stmt: Statement, con: Node, name: str, fallback: str) -> str:
    """The ADD clause of a constraint as written (fallback when the source has none), always named,
    so the VALIDATE step of the fix can refer to it."""
    clause = clause_text(stmt, con.get("location")) or fallback
    if not clause.upper().startswith("CONSTRAINT"):
        clause = f"CONSTRAINT {qi(name)} {clause}"
    return clause


def not_valid_fix(ref: str, clause: str, name: str, *, add: str, validate: str) -> str:
    """Add the constraint NOT VALID now (brief lock), VALIDATE it in the next file (no write lock)."""
    return steps(
        f"{add} (brief lock): {LOCK_TIMEOUT} ALTER TABLE {ref} ADD {clause} NOT VALID;",
        f"In the next migration file ({validate}): ALTER TABLE {ref} VALIDATE CONSTRAINT {qi(name)};",
    )


_STEP = re.compile(r"^(\d+)\.\s+")
_SQL_START = re.compile(
    r"(?:(?<=: )|(?<=; )|^)(SET lock_timeout|ALTER (?:TABLE|DOMAIN|TYPE|VIEW|MATERIALIZED VIEW|INDEX)|"
    r"CREATE (?:UNIQUE INDEX|INDEX|VIEW|SEQUENCE|OR REPLACE VIEW)|DROP (?:TABLE|INDEX|VIEW|MATERIALIZED VIEW)|"
    r"UPDATE|REINDEX|REFRESH MATERIALIZED VIEW)\b", re.MULTILINE)


def _statement_end(text: str, pos: int) -> int | None:
    """Index of the ';' ending the SQL statement at pos (quotes and parentheses respected), else None."""
    quote, depth = None, 0
    for i in range(pos, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ";" and depth == 0:
            return i
    return None


def fix_statements(fix: str) -> list[list[str]]:
    """The SQL statements a fix text gives, in order, as alternatives (a step starting with "Or"
    offers another way): what tests run on a real database to prove every fix executes. Prose
    mentions of SQL keywords are not statements: a statement follows ': ', '; ' or starts a line."""
    alternatives: list[list[str]] = [[]]
    steps_text: list[str] = []
    for line in fix.splitlines():
        m = _STEP.match(line)
        if m or not steps_text:
            steps_text.append(line[m.end():] if m else line)
        else:
            steps_text.append("\n" + line.strip())
    for step in steps_text:
        if not step.startswith("\n") and step.startswith(("Or ", "Otherwise")) and alternatives[-1]:
            alternatives.append([])
        text = step.lstrip("\n")
        pos = 0
        while (m := _SQL_START.search(text, pos)) is not None:
            end = _statement_end(text, m.start())
            if end is None:
                break
            alternatives[-1].append(text[m.start():end + 1])
            pos = end + 1
    return [alt for alt in alternatives if alt]
