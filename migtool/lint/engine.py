"""Run the rules over migration files in apply order and collect findings.

`lint_files` is the entry point for the CLI (deploy-migrate uses migtool.lint.api.lint_pending).
Files are linted in the order given, sharing one Context. What counts as existing (an object a
running release uses, so changing it can break or block that release) is one of EXISTING_MODES:

- APPLIED ("applied in database"): the database said which migrations ran. Those are existing;
  the pending ones deploy together, in order, so an object made by an earlier pending one is new.
- EARLIER ("earlier migrations"): no database (explicit paths, CI). Each migration is its own
  release: objects from earlier migrations exist; objects from earlier statements of the same
  migration are new. Linting a whole history folder reports what linting each migration alone does.
- TOGETHER ("before these files", `--together`): the files given deploy at once, like APPLIED.

`applied` files (migrations that already ran before these) are only read for facts, such as a
validated CHECK (col IS NOT NULL) that lets a later SET NOT NULL skip its scan, or which columns
are NOT NULL.
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
from migtool.lint.rules import RULES_BY_ID, STATEMENT_RULES
from migtool.lint.rules.meta import (
    BYTE_ORDER_MARK,
    INVALID_ALLOW,
    SYNTAX_ERROR,
    UNCHECKED_DYNAMIC_SQL,
    UNUSED_ALLOW,
)
from migtool.lint.source import ParsedFile, parse_source
from migtool.lint.suppress import FILE_SCOPE, Allow, find_allows

DEFAULT_PG_VERSION = 15
APPLIED = "applied in database"
EARLIER = "earlier migrations"
TOGETHER = "before these files"
EXISTING_MODES = (APPLIED, EARLIER, TOGETHER)
_KNOWN_IDS = set(RULES_BY_ID)
_UNSUPPRESSIBLE = {SYNTAX_ERROR.id, INVALID_ALLOW.id, UNUSED_ALLOW.id}


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
    return lint_parsed(parse_source(text, name, chunked=True), ctx, isolated=isolated)


def lint_parsed(parsed: ParsedFile, ctx: Context, *, isolated: bool = False) -> list[Finding]:
    """Findings for one parsed migration (see lint_source)."""
    name = parsed.name
    if parsed.error is not None:
        return [_syntax_finding(parsed)]
    ctx.start_file(parsed.statement_count, forget_new=isolated)
    raw: list[tuple[Finding, int]] = []
    if parsed.bom:
        raw.append((_finding(BYTE_ORDER_MARK, None, name, 1, 1, "",
                             f"{name} starts with a UTF-8 byte order mark; psql skips it, so it was skipped here too, "
                             "but other clients send it to the server as a syntax error.",
                             "Save the file as UTF-8 without BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)."), 0))
    large = parsed.chunks is not None
    for stmt in parsed.iter_statements():
        for rule in _rules_for(stmt):
            for hit in rule.check(stmt, ctx):
                raw.append((_finding(rule, hit.severity, name, stmt.line, stmt.column, stmt.display,
                                     hit.message, hit.fix), stmt.index))
        if stmt.kind == "DoStmt":
            raw.extend(_lint_do_block(stmt, ctx, name))
        elif ctx.functions and stmt.kind in ("SelectStmt", "CallStmt"):
            raw.extend(_lint_called_function(stmt, ctx, name))
        ctx.apply(stmt)
        if large and stmt.kind != "CreateFunctionStmt":  # memory bounded by a chunk: drop the tree once
            ctx.keep_facts(stmt)  # what the context needs is kept (a function body may still be run)
            stmt.release()
    if parsed.error is not None:  # a later chunk of a large file does not parse
        return [_syntax_finding(parsed)]
    allows = find_allows(parsed, _KNOWN_IDS, _UNSUPPRESSIBLE)
    if not allows:
        return [f for f, _ in raw]
    findings = _apply_allows(raw, allows, name)
    findings.sort(key=lambda f: (f.line, f.column or 0))
    return findings


def _lint_called_function(stmt, ctx: Context, name: str) -> list[tuple[Finding, int]]:
    """`SELECT f();` / `CALL p();` of a function the file created: its body runs now, so lint it."""
    from migtool.lint.plpgsql import called_function

    created = ctx.functions.pop(called_function(stmt) or "", None)  # popped: its body is linted once
    return [] if created is None else _lint_do_block(created, ctx, name, at=stmt)


def _lint_do_block(stmt, ctx: Context, name: str, at=None) -> list[tuple[Finding, int]]:
    """Findings for the statements a DO block (or a called function) runs, at their own lines, and
    one advice finding if part of it could not be read. It runs inside a transaction, whatever the
    file looks like. `at`: the statement that runs it (for suppressions), when not the block itself."""
    from migtool.lint.plpgsql import do_block_sql

    at = at or stmt
    block = do_block_sql(stmt)
    out: list[tuple[Finding, int]] = []
    unreadable = list(block.unreadable)
    was_in_transaction, ctx.in_transaction = ctx.in_transaction, True
    try:
        for line, sql in block.pieces:
            inner = parse_source(sql, name)
            if inner.error is not None:
                unreadable.append(f"a statement does not parse ({inner.error.message})")
                continue
            for sub in inner.statements:
                sub.line = line + sub.line - 1
                for rule in _rules_for(sub):
                    for hit in rule.check(sub, ctx):
                        out.append((_finding(rule, hit.severity, name, sub.line, None, sub.display,
                                             hit.message, hit.fix), at.index))
                ctx.apply(sub)
    finally:
        ctx.in_transaction = was_in_transaction
    if unreadable:
        out.append((_finding(UNCHECKED_DYNAMIC_SQL, None, name, stmt.line, stmt.column, stmt.display,
                             f"Part of {'this DO block' if at is stmt else 'the function run here'} was not checked: "
                             f"{'; '.join(unreadable)}. migtool reads plain "
                             "statements and EXECUTE of a constant string only.",
                             "Review what it runs by hand, or write the statements out so they can be linted; then "
                             "mark it: -- migtool:allow unchecked-dynamic-sql <what it runs and why that is safe>"),
                    at.index))
    return out


def lint_sql(sql: str, name: str = "<sql>", pg_version: int = DEFAULT_PG_VERSION) -> list[Finding]:
    """Findings for one SQL text on its own (every table it does not create counts as existing)."""
    return lint_source(sql, name, Context(pg_version))


def _context(pg_version: int, applied: Iterable[str]) -> Context:
    ctx = Context(pg_version)
    for text in applied:
        parsed = parse_source(text, "<applied>")
        ctx.start_file(len(parsed.statements))
        for stmt in parsed.statements:
            ctx.learn_facts(stmt)
    ctx.forget_new()  # applied: everything they created exists
    ctx.start_file(0)
    return ctx


def _mode(isolated: bool, existing: str | None) -> str:
    if existing is None:
        return EARLIER if isolated else TOGETHER
    if existing not in EXISTING_MODES:
        raise ValueError(f"unknown existing mode {existing!r}: expected one of {', '.join(EXISTING_MODES)}")
    return existing


def lint_sources(sources: Iterable[tuple[str, str]], pg_version: int = DEFAULT_PG_VERSION, *,
                 applied: Iterable[str] = (), isolated: bool = False, existing: str | None = None,
                 parallel_min_files: int | None = None) -> LintReport:
    """The pure core of lint_files: (name, SQL text) pairs in apply order, and the texts of the
    migrations that ran before them. `isolated`, `existing` and `parallel_min_files`: see lint_files
    (here the default is to parse in this process)."""
    mode = _mode(isolated, existing)
    isolated = mode == EARLIER
    ctx = _context(pg_version, applied)
    if parallel_min_files is None:
        parsed_files: Iterable[ParsedFile] = (parse_source(text, name, chunked=True) for name, text in sources)
        return _lint_in_order(parsed_files, ctx, isolated, mode)
    with closing(parsed_in_order(list(sources), _parse_pair, pre_decode=_PRE_DECODE,
                                 min_files=parallel_min_files)) as parsed_files:
        return _lint_in_order(parsed_files, ctx, isolated, mode)


def lint_files(paths: Sequence[Path], pg_version: int = DEFAULT_PG_VERSION, *,
               applied: Sequence[Path] = (), isolated: bool = False, existing: str | None = None,
               parallel_min_files: int = PARALLEL_MIN_FILES) -> LintReport:
    """Lint migration files in the order given (their apply order).

    By default (TOGETHER) objects created by one file are new for the files after it: they deploy
    together, so nobody uses those objects yet. With isolated=True (existing=EARLIER) each file is
    its own release: only objects it creates itself are new. existing=APPLIED is TOGETHER when the
    database said which migrations ran (the report says which mode was used). `applied` are
    migrations that ran before these (oldest first): read only to learn facts such as validated NOT
    NULL checks, never reported on. Raises ConfigError for a file that cannot be read. From
    `parallel_min_files` files on, a forked child reads and parses the later files while this
    process lints the first ones (the same report, in less wall time on a machine with two cores).
    """
    mode = _mode(isolated, existing)
    isolated = mode == EARLIER
    ctx = _context(pg_version, (read_migration(Path(p)) for p in applied))
    with closing(parsed_in_order([str(p) for p in paths], _read_and_parse, pre_decode=_PRE_DECODE,
                                 min_files=parallel_min_files)) as parsed_files:
        return _lint_in_order(parsed_files, ctx, isolated, mode)


def _lint_in_order(parsed_files: Iterable[ParsedFile], ctx: Context, isolated: bool, mode: str) -> LintReport:
    # Rules run here, in apply order, with one Context: a table created by an earlier file is new.
    report = LintReport(pg_version=ctx.pg_version, existing=mode)
    for parsed in parsed_files:
        report.files.append(parsed.name)
        report.findings.extend(lint_parsed(parsed, ctx, isolated=isolated))
    return report


# Statement kinds that lint_parsed decodes anyway (_rules_for), so a child can decode them ahead.
_PRE_DECODE = frozenset(_BY_KIND)


def _read_and_parse(name: str) -> ParsedFile:
    return parse_source(read_migration(Path(name)), name, chunked=True)


def _parse_pair(source: tuple[str, str]) -> ParsedFile:
    name, text = source
    return parse_source(text, name, chunked=True)
