"""Mark a migration rolled back or applied in Prisma's history, without touching the schema.

  migtool resolve --rolled-back 20250301090000_add_x   a failed migration you undid by hand (or that
                                                       never reached production): deploy applies it again
  migtool resolve --applied 20250301090000_add_x       a migration whose changes you applied by hand

This is the schema-only rollback for a migration that has not reached production; to undo one whose
data changes matter, restore the backup taken before it: `migtool rollback --before NAME`.
It runs `prisma migrate resolve` (resolve_command, default `npx prisma migrate resolve`) in the compose
migrate service, or locally for the direct target; --native (or resolve_command: "") writes the
same rows into _prisma_migrations itself, as Prisma would. Refused (exit 1) when Prisma would refuse:
--rolled-back needs a failed migration, --applied one that is not applied yet.
"""

from __future__ import annotations

from dataclasses import replace

from migtool import output


def add_arguments(parser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--rolled-back", metavar="NAME", help="mark the failed migration NAME rolled back")
    what.add_argument("--applied", metavar="NAME", help="mark migration NAME applied")
    parser.add_argument("--native", action="store_true",
                        help="write _prisma_migrations directly instead of running prisma (no Node needed)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def run(args, config) -> int:
    from migtool.database import open_database
    from migtool.migration_status import read_status
    from migtool.restore import prisma
    from migtool.steps import StepRunner

    mode, name = ("rolled-back", args.rolled_back) if args.rolled_back else ("applied", args.applied)
    if args.native:
        config = replace(config, resolve_command=None)
    db = open_database(config)
    with StepRunner("resolve", backup_dir=config.backup_dir, quiet=args.json) as run:
        run.set("migration", name)
        run.set("mode", mode)
        run.state = "_prisma_migrations unchanged"
        run.step("check", prisma.check_resolvable, db, config.migrations_dir, name, mode)
        done = run.step("resolve", prisma.resolve, config, db, name, mode, run.run_id)
        run.state = f"{name} marked {mode}"
        state = next(m.state for m in read_status(db, config.migrations_dir).migrations if m.name == name)
        run.set("how", done.how)
        run.finish("resolved")
    if args.json:
        output.print_json({"migration": name, "mode": mode, "how": done.how, "state": str(state)})
        return 0
    output.out().print(f"{name}: marked {mode} ({done.how}); it is now {state}", markup=False, highlight=False)
    output.out().print("next: migtool status", markup=False)
    return 0
