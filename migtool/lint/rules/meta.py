"""Findings about the migration file itself rather than a statement: reported by the engine."""

from __future__ import annotations

from migtool.lint.rule import Rule

SYNTAX_ERROR = Rule(
    id="syntax-error",
    severity="danger",
    summary="the file does not parse as PostgreSQL SQL",
    why="Nothing in it can be checked, and the migration will fail when it runs.",
    instead="Fix the SQL at the reported line (psql reports the same error).",
    bad=("CREATE TABLE (;",),
)

INVALID_ALLOW = Rule(
    id="invalid-allow",
    severity="warning",
    summary="a migtool:allow comment without a reason, with an unknown rule id, or malformed",
    why="A suppression must say why the statement is safe, and name real rules, or it hides nothing on purpose.",
    instead="-- migtool:allow <rule-id>[,<rule-id>] <reason>",
    bad=('-- migtool:allow drop-table\nDROP TABLE "Old";', '-- migtool:allow no-such-rule because\nSELECT 1;'),
)

UNUSED_ALLOW = Rule(
    id="unused-allow",
    severity="advice",
    summary="a migtool:allow comment that suppresses nothing",
    why="A stale suppression would silently hide a future problem in the same place.",
    instead="Remove it, or move it directly above the statement it is meant for.",
    bad=('-- migtool:allow drop-table it is empty\nSELECT 1;',),
)

UNCHECKED_DYNAMIC_SQL = Rule(
    id="unchecked-dynamic-sql",
    severity="advice",
    summary="a DO block whose SQL is built at run time (EXECUTE of a computed string) was not checked",
    why="migtool reads the statements of a DO block and EXECUTE of a constant string; SQL built at run time it "
        "cannot see, so nothing says whether it is safe.",
    instead="Write the statements out (no EXECUTE) or review the block by hand; one statement per EXECUTE of a literal.",
    bad=("DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'old'); END $$;",),
)

BYTE_ORDER_MARK = Rule(
    id="byte-order-mark",
    severity="advice",
    summary="the file starts with a UTF-8 byte order mark",
    why="psql skips it, but other clients send it to the server, where it is a syntax error.",
    instead="Save the file as UTF-8 without BOM.",
    bad=("\ufeffSELECT 1;",),
)

RULES = (SYNTAX_ERROR, INVALID_ALLOW, UNUSED_ALLOW, UNCHECKED_DYNAMIC_SQL, BYTE_ORDER_MARK)
