"""The Schema Change Request for migrations, filled in from analysis: what the statements change, the
reason (a `-- reason:` comment or --reason), whether old code keeps working (the lint verdict and its
findings), the tables and their estimated rows, the backfills, the rollback plan and the testing
checklist. Pure: facts in (texts, lint findings, row estimates), Markdown out."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from migtool.plan.naming import qi

_REASON = re.compile(r"^\s*--\s*reason\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_DO_UPDATE = re.compile(r'\bUPDATE\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)', re.IGNORECASE)
_PLANNED = re.compile(r"^-- Plan: `(migtool plan ([\w-]+) [^`]*)`, release (\d+) of (\d+)", re.MULTILINE)
_ROW_LOCK = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b", re.IGNORECASE)
UNREACHABLE = "unknown (database not reachable)"


@dataclass
class Change:
    text: str  # one line: add column "User"."phone" (TEXT, nullable)
    tables: list[str]
    backfill: bool = False
    creates: str | None = None  # a table this statement creates
    plan: str | None = None  # the `migtool plan` command that does this safely


@dataclass
class Migration:
    name: str  # folder name (or file name)
    path: str
    sql: str
    changes: list[Change] = field(default_factory=list)
    parse_error: str | None = None


def planned_backfill(sql: str) -> str | None:
    """For a migration from a `migtool plan` whose kind backfills, where the backfill is."""
    from migtool.plan.model import BACKFILL_KINDS

    m = _PLANNED.search(sql)
    if not m or m.group(2) not in BACKFILL_KINDS:
        return None
    return (f"a planned backfill phase of `{m.group(1)}` (this is release {m.group(3)} of {m.group(4)}; "
            "PLAN.md says which release backfills)")


def reason_in(sql: str) -> str | None:
    found = _REASON.findall(sql)
    return " ".join(found) if found else None


def _rel(rangevar) -> str:
    return rangevar.relname if rangevar is not None else "?"


def _expr(node) -> str:
    from pglast.stream import RawStream

    try:
        return RawStream()(node)
    except Exception:  # noqa: BLE001 - a display helper: an expression it cannot print is shown as '...'
        return "..."


def _plan_cmd(*words: str) -> str:
    return " ".join(["migtool", "plan", *(shlex.quote(w) for w in words)])


def _alter_changes(stmt) -> list[Change]:
    table = _rel(stmt.relation)
    t = qi(table)
    out = []
    for cmd in stmt.cmds or ():
        sub = cmd.subtype.name
        col = f"{t}.{qi(cmd.name)}" if cmd.name else t
        if sub == "AT_AddColumn":
            d = cmd.def_
            typ = _expr(d.typeName)
            cons = {c.contype.name: c for c in d.constraints or ()}
            default = _expr(cons["CONSTR_DEFAULT"].raw_expr) if "CONSTR_DEFAULT" in cons else None
            not_null = "CONSTR_NOTNULL" in cons or "CONSTR_PRIMARY" in cons
            words = [typ.upper(), "NOT NULL" if not_null else "nullable"]
            if default:
                words.append(f"default {default}")
            plan = (_plan_cmd("add-required-column", table, d.colname, typ.upper(), "--default", "VALUE")
                    if not_null and default is None else None)
            out.append(Change(f"add column {t}.{qi(d.colname)} ({', '.join(words)})", [table], plan=plan))
        elif sub == "AT_DropColumn":
            out.append(Change(f"drop column {col}", [table], plan=_plan_cmd("drop-column", table, cmd.name)))
        elif sub == "AT_AlterColumnType":
            typ = _expr(cmd.def_.typeName)
            out.append(Change(f"change the type of {col} to {typ.upper()}", [table],
                              plan=_plan_cmd("change-column-type", table, cmd.name, typ.upper())))
        elif sub == "AT_SetNotNull":
            out.append(Change(f"set NOT NULL on {col}", [table]))
        elif sub == "AT_DropNotNull":
            out.append(Change(f"drop NOT NULL on {col}", [table]))
        elif sub == "AT_ColumnDefault":
            what = f"set the default of {col} to {_expr(cmd.def_)}" if cmd.def_ is not None else f"drop the default of {col}"
            out.append(Change(what, [table]))
        elif sub == "AT_AddConstraint":
            con = cmd.def_
            kind = con.contype.name.removeprefix("CONSTR_").lower().replace("foreign", "foreign key")
            not_valid = " NOT VALID" if con.skip_validation else ""
            tables = [table]
            plan = None
            target = ""
            if con.contype.name == "CONSTR_FOREIGN" and con.pktable is not None:
                tables.append(con.pktable.relname)
                target = f" referencing {qi(con.pktable.relname)}"
                if not con.skip_validation and con.fk_attrs:
                    plan = _plan_cmd("add-foreign-key", table, con.fk_attrs[0].sval, con.pktable.relname)
            out.append(Change(f"add {kind} constraint {qi(con.conname or '?')} on {t}{target}{not_valid}", tables,
                              plan=plan))
        elif sub == "AT_ValidateConstraint":
            out.append(Change(f"validate constraint {qi(cmd.name)} on {t}", [table]))
        elif sub == "AT_DropConstraint":
            out.append(Change(f"drop constraint {qi(cmd.name)} on {t}", [table]))
        else:
            out.append(Change(f"alter table {t} ({sub.removeprefix('AT_')})", [table]))
    return out


def describe(stmt) -> list[Change]:
    """What one parsed statement changes, in words; [] for session settings."""
    kind = type(stmt).__name__
    if kind == "VariableSetStmt":
        return []
    if kind == "CreateStmt":
        name = _rel(stmt.relation)
        cols = [e.colname for e in stmt.tableElts or () if type(e).__name__ == "ColumnDef"]
        return [Change(f"create table {qi(name)} ({', '.join(qi(c) for c in cols)})", [name], creates=name)]
    if kind == "AlterTableStmt":
        return _alter_changes(stmt)
    if kind == "RenameStmt":
        obj = stmt.renameType.name.removeprefix("OBJECT_").lower()
        table = _rel(stmt.relation)
        if obj == "column":
            return [Change(f"rename column {qi(table)}.{qi(stmt.subname)} to {qi(stmt.newname)}", [table],
                           plan=_plan_cmd("rename-column", table, stmt.subname, stmt.newname))]
        return [Change(f"rename {obj} {qi(stmt.subname or table)} to {qi(stmt.newname)}", [table])]
    if kind == "IndexStmt":
        table = _rel(stmt.relation)
        cols = [p.name for p in stmt.indexParams or () if p.name]
        how = " CONCURRENTLY" if stmt.concurrent else ""
        plan = None if stmt.concurrent else _plan_cmd("add-index", table, ",".join(cols),
                                                      *(["--unique"] if stmt.unique else []))
        return [Change(f"create {'unique ' if stmt.unique else ''}index{how} {qi(stmt.idxname or '?')} on "
                       f"{qi(table)} ({', '.join(qi(c) for c in cols)})", [table], plan=plan)]
    if kind == "DropStmt":
        obj = stmt.removeType.name.removeprefix("OBJECT_").lower()
        parts = [[p.sval for p in o] if isinstance(o, tuple) else None for o in stmt.objects or ()]
        shown = [".".join(qi(x) for x in p) if p else _expr(o) for p, o in zip(parts, stmt.objects or (), strict=True)]
        tables = [p[-1] for p in parts if p] if obj == "table" else []
        plan = _plan_cmd("drop-table", tables[0]) if obj == "table" and tables else None
        how = " CONCURRENTLY" if stmt.concurrent else ""
        return [Change(f"drop {obj}{how} {', '.join(shown)}", tables, plan=plan)]
    if kind == "UpdateStmt":
        table = _rel(stmt.relation)
        cols = [t.name for t in stmt.targetList or ()]
        scope = "some rows" if stmt.whereClause is not None else "every row"
        return [Change(f"update {scope} of {qi(table)} (set {', '.join(qi(c) for c in cols)})", [table],
                       backfill=True)]
    if kind == "InsertStmt":
        table = _rel(stmt.relation)
        select = stmt.selectStmt
        from_select = select is not None and getattr(select, "fromClause", None)
        return [Change(f"insert into {qi(table)}" + (" ... select (copies rows)" if from_select else ""), [table],
                       backfill=bool(from_select))]
    if kind == "DeleteStmt":
        table = _rel(stmt.relation)
        return [Change(f"delete rows of {qi(table)}", [table])]
    if kind == "DoStmt":
        body = next((a.arg.sval for a in stmt.args or () if a.defname == "as"), "")
        body = _ROW_LOCK.sub(" ", body)  # SELECT ... FOR UPDATE locks rows, it updates nothing
        updated = sorted({m.strip('"').replace('""', '"') for m in _DO_UPDATE.findall(body)})
        if updated:
            return [Change(f"DO block updating {', '.join(qi(t) for t in updated)} (batched backfill)", updated,
                           backfill=True)]
        return [Change("DO block (procedural code: read it)", [])]
    if kind == "CreateTrigStmt":
        table = _rel(stmt.relation)
        return [Change(f"create trigger {qi(stmt.trigname)} on {qi(table)}", [table])]
    if kind == "CreateFunctionStmt":
        return [Change(f"create function {'.'.join(qi(n.sval) for n in stmt.funcname)}()", [])]
    if kind == "CreateEnumStmt":
        return [Change(f"create enum type {'.'.join(qi(n.sval) for n in stmt.typeName)}", [])]
    if kind == "AlterEnumStmt":
        return [Change(f"add value {stmt.newVal!r} to enum {'.'.join(qi(n.sval) for n in stmt.typeName)}", [])]
    if kind == "TruncateStmt":
        tables = [_rel(r) for r in stmt.relations or ()]
        return [Change(f"truncate {', '.join(qi(t) for t in tables)}", tables)]
    return [Change(kind.removesuffix("Stmt"), [])]


def analyze(name: str, path: str, sql: str) -> Migration:
    from pglast import parse_sql
    from pglast.parser import ParseError

    m = Migration(name, path, sql)
    try:
        stmts = parse_sql(sql)
    except ParseError as exc:
        m.parse_error = str(exc)
        return m
    for raw in stmts:
        m.changes.extend(describe(raw.stmt))
    return m


@dataclass
class Request:
    migrations: list[Migration]
    reason: str | None
    findings: list  # lint Findings (active and suppressed)
    rows: dict[str, str]  # table -> estimate text
    backup_reason: str
    paths: list[str]
    date: str
    rehearsal: list[str] | None = None  # the checklist lines of a `migtool rehearse --report` file

    @property
    def tables(self) -> list[str]:
        seen: list[str] = []
        for m in self.migrations:
            for c in m.changes:
                for t in c.tables:
                    if t not in seen:
                        seen.append(t)
        return seen

    @property
    def created(self) -> set[str]:
        return {c.creates for m in self.migrations for c in m.changes if c.creates}

    @property
    def active(self) -> list:
        return [f for f in self.findings if not f.suppressed]

    @property
    def compatible(self) -> bool:
        return not any(f.severity == "danger" for f in self.active) and not any(m.parse_error for m in self.migrations)

    @property
    def backfills(self) -> list[str]:
        found = [f"`{m.name}`: {c.text}" for m in self.migrations for c in m.changes if c.backfill]
        if found:
            return found
        for m in self.migrations:  # a migration `migtool plan` wrote: its backfill may ship later
            planned = planned_backfill(m.sql)
            if planned:
                return [planned]
        return []

    def to_dict(self) -> dict:
        return {
            "migrations": [m.name for m in self.migrations],
            "changes": [{"migration": m.name, "change": c.text, "plan": c.plan} for m in self.migrations
                        for c in m.changes],
            "reason": self.reason,
            "backward_compatible": self.compatible,
            "findings": [f.to_dict() for f in self.findings],
            "tables": [{"table": t, "estimated_rows": self.rows.get(t, UNREACHABLE)} for t in self.tables],
            "backfill": self.backfills,
            "rollback": rollback_steps(self),
            "checklist": checklist(self),
        }


def rollback_steps(req: Request) -> list[str]:
    steps = [f"Before deploying: `migtool backup --reason {req.backup_reason}`, then `migtool backups verify latest`.",
             f"To undo: `migtool rollback --before {req.migrations[0].name}` (the newest backup taken before it), "
             "or `migtool rollback --to BACKUP` (BACKUP: the file name `migtool backup` printed; "
             "`migtool backups list` shows it); then deploy the previous release's code."]
    if req.compatible:
        steps.insert(0, "The change keeps the previous release working, so rolling back the code alone is safe; "
                        "the restore below is the last resort (it loses writes made since the backup).")
    else:
        steps.insert(0, "Old code breaks on the new schema: rolling back the code alone is not enough, the database "
                        "must go back too (writes made since the backup are lost).")
    return steps


def checklist(req: Request) -> list[str]:
    items = [f"`migtool lint {' '.join(req.paths)}` passes (no danger or warning)",
             "applied on a staging database restored from a recent production backup; its duration noted",
             "the previous release's tests pass against the migrated schema (old code, new schema)",
             "the new release's tests pass"]
    if req.backfills:
        items.append("the backfill's progress was watched on staging, and its remaining-rows query returns 0")
    items += ["the backup restores: `migtool backups verify latest --restore-test`",
              "after the deploy, `migtool status` exits 0"]
    return items


def rehearsal_checklist(markdown: str) -> list[str]:
    """The `- [x] question **answer**: evidence` lines of a rehearsal report's checklist section."""
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Checklist"
        elif inside and line.startswith("- ["):
            lines.append(line)
    return lines


def render(req: Request, fmt: str = "markdown") -> str:
    """The filled-in template as Markdown; fmt "github" adds a marker and collapsible details for a PR comment."""
    gh = fmt == "github"
    names = ", ".join(f"`{m.name}`" for m in req.migrations)
    lines = []
    if gh:
        lines.append("<!-- migtool:request -->")
    lines += ["## Schema Change Request", "",
              f"**Migrations:** {names}  ", "**Requested by:** _(name)_  ", f"**Date:** {req.date}  ",
              "**Target release:** _(version)_", "", "### Change", ""]
    for m in req.migrations:
        if m.parse_error:
            lines.append(f"- `{m.name}`: **does not parse** ({m.parse_error}): nothing in it was analysed")
        for c in m.changes:
            lines.append(f"- `{m.name}`: {c.text}")
        if not m.changes and not m.parse_error:
            lines.append(f"- `{m.name}`: no schema statement")
    lines += ["", "### Reason", "", req.reason or "_Not given: add a `-- reason:` comment to the migration, or "
              "pass `--reason`._", "", "### Backward compatible", ""]
    danger = [f for f in req.active if f.severity == "danger"]
    lines.append("**Yes**: the previous release keeps working while and after this runs." if req.compatible else
                 "**No**: the previous release breaks, or data is lost, once this runs.")
    lines.append("")
    if req.active:
        lines += ["Lint findings:", ""]
        for f in req.active:
            lines.append(f"- **{f.severity}** `{f.rule}` at `{f.file}:{f.line}`: {f.message}")
        lines.append("")
    accepted = [f for f in req.findings if f.suppressed]
    if accepted:
        lines += ["Accepted on purpose (suppressed, with the reason given):", ""]
        lines += [f"- `{f.rule}` at `{f.file}:{f.line}`: {f.suppression_reason}" for f in accepted]
        lines.append("")
    if not req.active and not accepted:
        lines += ["`migtool lint` finds nothing.", ""]
    if not req.compatible:
        lines += ["Rollout plan instead (expand/contract):", ""]
        plans = sorted({c.plan for m in req.migrations for c in m.changes if c.plan})
        for p in plans:
            lines.append(f"- `{p}` writes the phased migrations and PLAN.md")
        for f in danger:
            lines.append(f"- for `{f.rule}` at `{f.file}:{f.line}`:")
            lines += [f"  {step}" for step in f.fix.splitlines()]
        lines.append("")
    lines += ["### Tables affected", "", "| table | estimated rows |", "|---|---|"]
    for t in req.tables:
        rows = req.rows.get(t, UNREACHABLE)
        if t in req.created and rows in (UNREACHABLE, "not in the database"):
            rows = "0 (created by this change)"
        lines.append(f"| {qi(t)} | {rows} |")
    if not req.tables:
        lines.append("| _(none)_ | |")
    lines += ["", "### Data backfill required", ""]
    lines += [f"- Yes: {b}" for b in req.backfills] or ["No."]
    lines += ["", "### Rollback plan", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(rollback_steps(req), start=1)]
    lines += ["", "### Testing checklist", ""]
    lines += [f"- [ ] {item}" for item in checklist(req)]
    if req.rehearsal is not None:
        # Ticked only where the rehearsal proved it: its report ticks only the questions answered yes.
        lines += ["", "### Testing done (`migtool rehearse`)", ""]
        lines += req.rehearsal or ["- [ ] the rehearsal report has no checklist"]
    if gh:
        for m in req.migrations:
            lines += ["", f"<details><summary><code>{m.name}</code></summary>", "", "```sql", m.sql.rstrip(), "```",
                      "", "</details>"]
    lines.append("")
    return "\n".join(lines)
