"""`-- migtool:allow <rule-id>[,<rule-id>] <reason>` comments, and which findings they suppress.

Where an allow applies:
- directly above a statement (only comments and whitespace between), or inside it: that statement;
- at the top of the file, separated from the first statement by a blank line: the whole file;
- anywhere else (after the last statement): nothing, which is reported as unused.
A reason is required; an allow without one, or naming an unknown rule, suppresses nothing and is
reported as invalid-allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from migtool.lint.source import ParsedFile, end_of_block_comment

FILE_SCOPE = -1
_DIRECTIVE = re.compile(rb"--[ \t]*migtool:([^\r\n]*)")
_ALLOW = re.compile(r"\s*allow\b(.*)$", re.DOTALL)
_IDS = re.compile(r"([A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*)(.*)$", re.DOTALL)
_REASON_LEAD = " \t:-\u2014\u2013"


@dataclass
class Allow:
    pos: int  # byte offset of the comment
    line: int
    comment: str  # the comment as written
    ids: list[str]
    reason: str
    problems: list[str] = field(default_factory=list)  # why it is invalid
    scope: int | None = None  # statement index, FILE_SCOPE, or None (applies to nothing)
    used: set[str] = field(default_factory=set)

    @property
    def effective(self) -> bool:
        return not self.problems and self.scope is not None


def parse_directive(body: str, known: set[str], unsuppressible: set[str]) -> tuple[list[str], str, list[str]]:
    """(rule ids, reason, problems) of the text after 'migtool:'."""
    m = _ALLOW.match(body)
    if not m:
        word = body.split()[0] if body.split() else ""
        return [], "", [f"unknown directive 'migtool:{word}': write -- migtool:allow <rule-id> <reason>"]
    rest = m.group(1).strip()
    ids_match = _IDS.match(rest)
    if not ids_match:
        return [], "", ["names no rule: write -- migtool:allow <rule-id> <reason>"]
    ids = [x.strip() for x in ids_match.group(1).split(",")]
    reason = ids_match.group(2).strip(_REASON_LEAD).strip()
    problems = []
    for rule_id in ids:
        if rule_id in unsuppressible:
            problems.append(f"'{rule_id}' cannot be suppressed")
        elif rule_id not in known:
            import difflib

            close = difflib.get_close_matches(rule_id, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else " (migtool lint --list-rules shows them)"
            problems.append(f"unknown rule id '{rule_id}'{hint}")
    if not reason:
        problems.append("gives no reason: say why the statement is safe after the rule id")
    return ids, reason, problems


def _has_blank_line(data: bytes, pos: int, end: int) -> bool:
    """Whether an empty line lies between pos and the next token (blank lines inside comments do not count)."""
    i, line_has_content = pos, True  # pos is on the allow comment's own line
    while i < end:
        ch = data[i]
        if ch == 0x0A:
            if not line_has_content:
                return True
            line_has_content = False
            i += 1
        elif ch in b" \t\r\f\v":
            i += 1
        elif data.startswith(b"--", i):
            line_has_content = True
            nl = data.find(b"\n", i, end)
            i = end if nl < 0 else nl
        elif data.startswith(b"/*", i):
            line_has_content = True
            i = end_of_block_comment(data, i, end)
        else:
            return False
    return False


def find_allows(parsed: ParsedFile, known: set[str], unsuppressible: set[str]) -> list[Allow]:
    data = parsed.data
    if b"migtool:" not in data:
        return []
    stmts = parsed.statements
    allows = []
    for m in _DIRECTIVE.finditer(data):
        pos = m.start()
        body = m.group(1).decode("utf-8", errors="replace")
        ids, reason, problems = parse_directive(body, known, unsuppressible)
        allow = Allow(pos=pos, line=data.count(b"\n", 0, pos) + 1,
                      comment=m.group(0).decode("utf-8", errors="replace").strip(),
                      ids=ids, reason=reason, problems=problems)
        allow.scope = _scope(data, stmts, pos, m.end())
        allows.append(allow)
    return allows


def _scope(data: bytes, stmts, pos: int, line_end: int) -> int | None:
    for st in stmts:
        start, end = st.base + st.start, st.base + st.end  # file offsets (a large file is parsed in chunks)
        if start <= pos < end:
            return st.index
        if pos < start:
            if st.index == 0 and _has_blank_line(data, line_end, start):
                return FILE_SCOPE
            return st.index
    return None
