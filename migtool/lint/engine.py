"""Run the rules over migration files in apply order and collect findings.

`lint_files` is the entry point for the CLI and for deploy-migrate. Files are linted in the order
given, sharing one Context, so a table created by an earlier file of the same run counts as new.
`applied` files (migrations that already ran before these) are only read for facts, such as a
validated CHECK (col IS NOT NULL) that lets a later SET NOT NULL skip its scan.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path

from migtool.errors import ConfigError
from migtool.lint.context import Context
from migtool.lint.model import Finding, LintReport
from migtool.lint.parallel import MIN_FILES as PARALLEL_MIN_FILES
from migtool.lint.parallel import parsed_in_order
from migtool.lint.rule import ALL_STATEMENTS, Rule
from migtool.lint.rules import META_RULES, RULES_BY_ID, STATEMENT_RULES
from migtool.lint.rules.meta import INVALID_ALLOW, SYNTAX_ERROR, UNUSED_ALLOW
from migtool.lint.source import ParsedFile, parse_source
from migtool.lint.suppress import FILE_SCOPE, Allow, find_allows

DEFAULT_PG_VERSION = 15
_KNOWN_IDS = set(RULES_BY_ID)
_UNSUPPRESSIBLE = {r.id for r in META_RULES}


def _dispatch(rules: Iterable[Rule]) -> tuple[dict[str, list[Rule]], list[Rule]]:
    by_kind: dict[str, list[Rule]] = {}
    everywhere = []
    for rule in rules:
        for kind in rule.nodes:
            if kind == ALL_STATEMENTS:
                everywhere.append(rule)
            else:
                by_kind.setdefault(kind, []).append(rule)
    return by_kind, everywhere


_BY_KIND, _EVERYWHERE = _dispatch(STATEMENT_RULES)


def _rules_for(stmt) -> list[Rule]:
    """The rules to run on a (decoded) statement; ALTER TABLE rules only for the subcommands they read."""
    rules = _BY_KIND.get(stmt.kind)
    if not rules:
        return _EVERYWHERE
    node = stmt.decoded()
    if stmt.kind == "AlterTableStmt":
        present = {c.get("AlterTableCmd", {}).get("subtype") for c in node.get("cmds", ())}
        rules = [r for r in rules if not r.alter_subtypes or not present.isdisjoint(r.alter_subtypes)]
    return rules + _EVERYWHERE


def _read_bytes(path: Path) -> bytes:
    # os.open/os.read: a thousand small migrations read in half the time of Path.read_bytes.
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_migration(path: Path) -> str:
    """The file's text the way Prisma reads it (invalid UTF-8 bytes replaced, not fatal)."""
    try:
        return _read_bytes(path).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"migration file not found: {path}", hint="check the path (migtool lint PATH...)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a migration file",
                          hint="pass the folder to `migtool lint`, which finds the migration.sql files in it") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _finding(rule: Rule, severity: str | None, name: str, line: int, column: int | None, statement: str,
             message: str, fix: str) -> Finding:
    return Finding(rule=rule.id, severity=severity or rule.severity, file=name, line=line, column=column,
                   statement=statement, message=message, fix=fix)


def _syntax_finding(parsed: ParsedFile) -> Finding:
    err = parsed.error
    assert err is not None
    return _finding(SYNTAX_ERROR, None, parsed.name, err.line, err.column, "",
                    f"{parsed.name} does not parse: {err.message} (line {err.line}); nothing in it was checked.",
                    "Fix the SQL at this line; `psql -v ON_ERROR_STOP=1 -f FILE` against a scratch database "
                    "shows the same error.")


def _apply_allows(findings: list[tuple[Finding, int]], allows: list[Allow], name: str) -> list[Finding]:
    out = []
    for finding, stmt_index in findings:
        for allow in allows:
            if allow.effective and finding.rule in allow.ids and allow.scope in (stmt_index, FILE_SCOPE):
                finding.suppressed = True
                finding.suppression_reason = allow.reason
                allow.used.add(finding.rule)
                break
        out.append(finding)
    for allow in allows:
        if allow.problems:
            out.append(_finding(INVALID_ALLOW, None, name, allow.line, None, allow.comment,
                                f"This migtool:allow is ignored: {'; '.join(allow.problems)}.",
                                "Write it as: -- migtool:allow <rule-id>[,<rule-id>] <why it is safe>"))
        elif allow.scope is None:
            out.append(_finding(UNUSED_ALLOW, None, name, allow.line, None, allow.comment,
                                "This migtool:allow is not above any statement, so it suppresses nothing.",
                                "Move it directly above the statement it is for, or remove it."))
        else:
            where = "in this file" if allow.scope == FILE_SCOPE else "on the statement below it"
            for rule_id in allow.ids:
                if rule_id not in allow.used:
                    out.append(_finding(UNUSED_ALLOW, None, name, allow.line, None, allow.comment,
                                        f"migtool:allow {rule_id} suppresses nothing: no {rule_id} finding {where}.",
                                        "Remove it (a stale allow would hide a future problem), or move it directly "
                                        "above the statement it is for."))
    return out


def lint_source(text: str, name: str, ctx: Context, *, isolated: bool = False) -> list[Finding]:
    """Findings for one migration's text, in statement order; updates ctx with what it creates."""
    return lint_parsed(parse_source(text, name), ctx, isolated=isolated)


def lint_parsed(parsed: ParsedFile, ctx: Context, *, isolated: bool = False) -> list[Finding]:
    """Findings for one parsed migration (see lint_source)."""
    name = parsed.name
    if parsed.error is not None:
        return [_syntax_finding(parsed)]
    ctx.start_file(len(parsed.statements), forget_new=isolated)
    raw: list[tuple[Finding, int]] = []
    for stmt in parsed.statements:
        for rule in _rules_for(stmt):
            for hit in rule.check(stmt, ctx):
                raw.append((_finding(rule, hit.severity, name, stmt.line, stmt.column, stmt.display,
                                     hit.message, hit.fix), stmt.index))
        ctx.apply(stmt)
    allows = find_allows(parsed, _KNOWN_IDS, _UNSUPPRESSIBLE)
    if not allows:
        return [f for f, _ in raw]
    findings = _apply_allows(raw, allows, name)
    findings.sort(key=lambda f: (f.line, f.column or 0))
    return findings


def lint_sql(sql: str, name: str = "<sql>", pg_version: int = DEFAULT_PG_VERSION) -> list[Finding]:
    """Findings for one SQL text on its own (every table it does not create counts as existing)."""
    return lint_source(sql, name, Context(pg_version))


def _context(pg_version: int, applied: Iterable[str]) -> Context:
    ctx = Context(pg_version)
    for text in applied:
        for stmt in parse_source(text, "<applied>").statements:
            ctx.learn_facts(stmt)
    return ctx


def lint_sources(sources: Iterable[tuple[str, str]], pg_version: int = DEFAULT_PG_VERSION, *,
                 applied: Iterable[str] = (), isolated: bool = False,
                 parallel_min_files: int | None = None) -> LintReport:
    """The pure core of lint_files: (name, SQL text) pairs in apply order, and the texts of the
    migrations that ran before them. `isolated` and `parallel_min_files`: see lint_files (here the
    default is to parse in this process)."""
    ctx = _context(pg_version, applied)
    if parallel_min_files is None:
        parsed_files: Iterable[ParsedFile] = (parse_source(text, name) for name, text in sources)
        return _lint_in_order(parsed_files, ctx, isolated)
    with closing(parsed_in_order(list(sources), _parse_pair, pre_decode=_PRE_DECODE,
                                 min_files=parallel_min_files)) as parsed_files:
        return _lint_in_order(parsed_files, ctx, isolated)


def lint_files(paths: Sequence[Path], pg_version: int = DEFAULT_PG_VERSION, *,
               applied: Sequence[Path] = (), isolated: bool = False,
               parallel_min_files: int = PARALLEL_MIN_FILES) -> LintReport:
    """Lint migration files in the order given (their apply order).

    Objects created by one file are new for the files after it: they are all pending, so nobody
    uses those objects yet. With isolated=True (for when it is unknown which files already ran),
    each file is judged alone: only objects it creates itself are new. `applied` are migrations
    that ran before these (oldest first): read only to learn facts such as validated NOT NULL
    checks, never reported on. Raises ConfigError for a file that cannot be read. From
    `parallel_min_files` files on, a forked child reads and parses the later files while this
    process lints the first ones (the same report, in less wall time on a machine with two cores).
    """
    ctx = _context(pg_version, (read_migration(Path(p)) for p in applied))
    with closing(parsed_in_order([str(p) for p in paths], _read_and_parse, pre_decode=_PRE_DECODE,
                                 min_files=parallel_min_files)) as parsed_files:
        return _lint_in_order(parsed_files, ctx, isolated)


def _lint_in_order(parsed_files: Iterable[ParsedFile], ctx: Context, isolated: bool) -> LintReport:
    # Rules run here, in apply order, with one Context: a table created by an earlier file is new.
    report = LintReport(pg_version=ctx.pg_version)
    for parsed in parsed_files:
        report.files.append(parsed.name)
        report.findings.extend(lint_parsed(parsed, ctx, isolated=isolated))
    return report


# Statement kinds that lint_parsed decodes anyway (_rules_for), so a child can decode them ahead.
_PRE_DECODE = frozenset(_BY_KIND)


def _read_and_parse(name: str) -> ParsedFile:
    return parse_source(read_migration(Path(name)), name)


def _parse_pair(source: tuple[str, str]) -> ParsedFile:
    name, text = source
    return parse_source(text, name)
