"""Write the safe, phased way to make a schema change: Prisma migration folders, in order, after the
newest existing migration, and a PLAN.md that says which release ships which migration, what code
change each release needs and its schema.prisma edit.

    migtool plan add-required-column User phone TEXT --default UNKNOWN
    migtool plan rename-column User name fullName
    migtool plan change-column-type Order total "DECIMAL(12,2)"
    migtool plan add-foreign-key Order userId User.id
    migtool plan add-index Order userId,createdAt [--unique]
    migtool plan drop-column User legacy
    migtool plan drop-table LegacyAudit

Table and column names are checked against the live database when it is reachable, else against the
migrations folder; a typo is an error naming the closest match (exit 2). The folders go to --out
(default: plans/<change> beside the migrations folder), not into the migrations folder itself: each
release copies its own folders in, so a deploy never runs a contract step before its code has shipped.
Every generated migration passes `migtool lint`.
"""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

_KIND_HELP = {
    "add-required-column": "a NOT NULL column: add nullable, backfill, enforce with a validated CHECK",
    "rename-column": "new column kept in sync by a trigger, backfill, switch reads, drop the old one",
    "change-column-type": "new column of the new type, backfill with the cast, switch, drop the old one",
    "add-foreign-key": "find orphans first, add NOT VALID, VALIDATE in its own migration",
    "add-index": "CREATE INDEX CONCURRENTLY alone in its migration file",
    "drop-column": "the contract step: stop using it in one release, back up, drop it in the next",
    "drop-table": "the contract step for a table, with the soft-delete alternative",
}


def _positive(raw: str) -> int:
    import argparse

    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {raw!r}")
    return value


def add_arguments(parser) -> None:
    import argparse

    from migtool.cli import _common_options

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--out", metavar="DIR",
                         help="where the migration folders and PLAN.md go (default: plans/<change> beside the "
                              "migrations folder; give the migrations folder itself to write them there)")
    options.add_argument("--dry-run", action="store_true", help="print the plan and the SQL, write nothing")
    options.add_argument("--json", action="store_true", help="print the plan as JSON (with the SQL)")
    options.add_argument("--batch-size", type=_positive, default=1000, metavar="N",
                         help="rows per committed backfill batch (default: 1000)")
    options.add_argument("--small-below", type=int, default=None, metavar="ROWS",
                         help="a table with fewer rows (by the live statistics) is backfilled with one UPDATE "
                              "(default: 10000; unknown sizes always get batches)")
    parents = [_common_options(), options]
    kinds = parser.add_subparsers(dest="kind", metavar="CHANGE", required=True)

    def kind(name: str):
        return kinds.add_parser(name, help=_KIND_HELP[name], description=_KIND_HELP[name], parents=parents)

    p = kind("add-required-column")
    p.add_argument("table")
    p.add_argument("column")
    p.add_argument("type", metavar="TYPE", help="PostgreSQL type, e.g. TEXT, INTEGER, VARCHAR(20)")
    p.add_argument("--default", required=True, metavar="VALUE",
                   help="value for old rows and old code's inserts: a bare word is a string (UNKNOWN), "
                        "a number or an expression stays as written (0, now())")
    p = kind("rename-column")
    p.add_argument("table")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--no-trigger", dest="trigger", action="store_false",
                   help="no sync trigger: the code writes both columns itself (adds a release)")
    p = kind("change-column-type")
    p.add_argument("table")
    p.add_argument("column")
    p.add_argument("type", metavar="NEWTYPE")
    p.add_argument("--new-name", metavar="NAME", help="the new column (default: COLUMN_<type>; Prisma maps the "
                                                      "field to it with @map)")
    p.add_argument("--no-trigger", dest="trigger", action="store_false",
                   help="no sync trigger: the code writes both columns itself (adds a release)")
    p = kind("add-foreign-key")
    p.add_argument("table")
    p.add_argument("column")
    p.add_argument("reference", metavar="REFTABLE[.COL]", help="the referenced table (its primary key) or table.column")
    p = kind("add-index")
    p.add_argument("table")
    p.add_argument("columns", nargs="+", metavar="COLUMN", help="columns, space or comma separated, in index order")
    p.add_argument("--unique", action="store_true", help="a unique index (@@unique)")
    p = kind("drop-column")
    p.add_argument("table")
    p.add_argument("column")
    p = kind("drop-table")
    p.add_argument("table")


def _positionals(args) -> list[str]:
    return {
        "add-required-column": lambda: [args.table, args.column, args.type],
        "rename-column": lambda: [args.table, args.old, args.new],
        "change-column-type": lambda: [args.table, args.column, args.type],
        "add-foreign-key": lambda: [args.table, args.column, args.reference],
        "add-index": lambda: [args.table, ",".join(_columns(args))],
        "drop-column": lambda: [args.table, args.column],
        "drop-table": lambda: [args.table],
    }[args.kind]()


def _columns(args) -> list[str]:
    return [c for part in args.columns for c in part.split(",") if c]


def command_line(args, positionals: list[str] | None = None) -> str:
    words = ["migtool", "plan", args.kind, *(positionals or _positionals(args))]
    if args.kind == "add-required-column":
        words += ["--default", args.default]
    if getattr(args, "new_name", None):
        words += ["--new-name", args.new_name]
    if getattr(args, "trigger", True) is False:
        words.append("--no-trigger")
    if getattr(args, "unique", False):
        words.append("--unique")
    return " ".join(shlex.quote(w) for w in words)


def load_schema(config):
    """(schema, database or None): the live schema when reachable, plus what pending migrations create."""
    from migtool import output
    from migtool.database import open_database
    from migtool.errors import ConfigError, MigtoolError
    from migtool.plan.schema import merge, read_folder_schema, read_live_schema
    from migtool.plan.writer import shown

    folder = read_folder_schema(Path(config.migrations_dir))
    folder.source = f"migrations folder {shown(config.migrations_dir)}"
    try:
        db = open_database(config)
        live = read_live_schema(db)
    except MigtoolError as exc:
        if not Path(config.migrations_dir).is_dir():
            raise ConfigError(f"cannot check table and column names: {exc.message}, and there is no migrations "
                              f"folder at {shown(config.migrations_dir)}",
                              hint="start the database (migtool doctor), or pass --migrations-dir DIR") from None
        output.warn(f"no live schema ({exc.message}); checking names against the {folder.source}")
        return folder, None
    return merge(live, folder), db


def _count(db, sql: str) -> int | None:
    from migtool.errors import MigtoolError

    if db is None:
        return None
    try:
        return int(db.query(f"SELECT count(*) AS n FROM ({sql}) AS x")[0]["n"])
    except MigtoolError:
        return None


def build(args, schema, db):
    from migtool.plan import add_foreign_key, add_index, add_required_column, copy_column, drop

    command = command_line(args)
    kind = args.kind
    if kind == "add-required-column":
        return add_required_column.build(schema, args.table, args.column, args.type, args.default,
                                         batch_size=args.batch_size, command=command)
    if kind == "rename-column":
        return copy_column.build_rename(schema, args.table, args.old, args.new, batch_size=args.batch_size,
                                        command=command, trigger=args.trigger)
    if kind == "change-column-type":
        return copy_column.build_change_type(schema, args.table, args.column, args.type,
                                             batch_size=args.batch_size, command=command,
                                             new_name=args.new_name, trigger=args.trigger)
    if kind == "add-foreign-key":
        schema.column(args.table, args.column)
        ref_table, ref_col = add_foreign_key.resolve_reference(schema, args.reference)
        orphans = _count(db, add_foreign_key.orphans_sql(args.table, args.column, ref_table, ref_col))
        return add_foreign_key.build(schema, args.table, args.column, args.reference, command=command,
                                     orphans=orphans)
    if kind == "add-index":
        columns = _columns(args)
        for c in columns:
            schema.column(args.table, c)
        duplicates = _count(db, add_index.duplicates_sql(args.table, columns)) if args.unique else None
        return add_index.build(schema, args.table, columns, unique=args.unique, command=command,
                               duplicates=duplicates)
    if kind == "drop-column":
        return drop.build_drop_column(schema, args.table, args.column, command=command)
    return drop.build_drop_table(schema, args.table, command=command)


def _with_suggestion(args, exc) -> str:
    """The command again, with the misspelt name replaced by the closest match."""
    words = _positionals(args)
    fixed = []
    done = False
    for w in words:
        if not done and exc.name in w.split(",") + w.split("."):
            w = ",".join(exc.suggestion if p == exc.name else p for p in w.split(",")) if "," in w else (
                ".".join(exc.suggestion if p == exc.name else p for p in w.split(".")))
            done = True
        fixed.append(w)
    return command_line(args, fixed)


def default_out(config, plan) -> Path:
    from migtool.plan.naming import slug

    base = Path(config.migrations_dir).parent / "plans"
    first = plan.migrations[0].name if plan.migrations else slug(plan.kind)
    return base / first


def run(args, config) -> int:
    from migtool import output
    from migtool.plan.model import label_migrations, render_markdown
    from migtool.plan.schema import NameNotFound
    from migtool.plan.writer import assign_folders, write_plan
    from migtool.plan.writer import shown as _shown

    schema, db = load_schema(config)
    if args.small_below is not None:
        for table in schema.tables.values():
            table.small_below = args.small_below
    try:
        plan = build(args, schema, db)
    except NameNotFound as exc:
        if exc.suggestion:
            exc.hint = _with_suggestion(args, exc)
        else:
            exc.hint = "check the name: `migtool status` shows the migrations, `\\d` in psql the tables"
        raise
    label_migrations(plan)
    migrations_dir = Path(config.migrations_dir)
    if not migrations_dir.is_dir():  # a typo in --migrations-dir: the folders would not sort after the real ones
        output.warn(f"no migrations folder at {_shown(migrations_dir)}: the new folders are not timestamped after "
                    "existing migrations; pass --migrations-dir DIR if you have some")
    out = Path(args.out) if args.out else default_out(config, plan)
    assign_folders(plan, migrations_dir, out, datetime.now(UTC))
    markdown = render_markdown(plan, _shown(out), _shown(migrations_dir))
    if args.json:
        data = plan.to_dict()
        data["out"] = str(out)
        data["written"] = not args.dry_run
        for release in data["releases"]:
            for m in release["migrations"]:
                m["sql"] = next(x.sql for x in plan.migrations if x.folder == m["folder"])
        if not args.dry_run:
            write_plan(plan, out, markdown)
        output.print_json(data)
        return 0
    if args.dry_run:
        sys.stdout.write(markdown)
        for m in plan.migrations:
            sys.stdout.write(f"\n### {m.folder}/migration.sql\n\n```sql\n{m.sql}```\n")
        sys.stdout.flush()
        output.info("dry run: nothing written")
        return 0
    written = write_plan(plan, out, markdown)
    sys.stdout.write(markdown)
    sys.stdout.flush()
    output.info(f"wrote {len(written) - 1} migration folders and PLAN.md to {_shown(out)}")
    output.info(f"check them: migtool lint {_shown(out)}")
    return 0
