"""Roll the database back to a backup, keeping the current state so the rollback can be undone.

  migtool rollback --before 20250301090000_drop_legacy   the newest backup taken before that migration
  migtool rollback --to NAME --yes                       a given backup (path, name, `latest`)
  migtool rollback --undo                                swap the kept pre-rollback copy back in
  migtool rollback --cleanup --older-than 7d             drop kept copies

The backup is verified, restored into a new database beside the live one and checked against its
manifest while the app still serves; then the app services are stopped, the names swapped (the live
database is kept as <db>_before_rollback_<stamp>), Prisma's history repaired when the restored table
holds a failed row, and the app started again. Writes made after the backup are not in the restored
database: the summary counts them per table. --stop-first stops the app before restoring. Without
room for a second copy: app stopped, safety backup, restore in place. Every step is recorded in
<backup_dir>/history.jsonl (see `migtool runs`).
"""

from __future__ import annotations

from migtool import output
from migtool.errors import ConfigError


def add_arguments(parser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--to", metavar="BACKUP", help="the backup to roll back to (path, name, `latest`)")
    what.add_argument("--before", metavar="MIGRATION", help="the newest backup taken before MIGRATION was applied")
    what.add_argument("--undo", action="store_true", help="swap the newest kept copy back in")
    what.add_argument("--cleanup", action="store_true", help="drop kept copies (<db>_before_rollback_*)")
    parser.add_argument("--older-than", metavar="AGE", help="with --cleanup: only copies older than AGE (7d, 12h)")
    parser.add_argument("--dry-run", action="store_true", help="with --cleanup: only show what would be dropped")
    parser.add_argument("--stop-first", action="store_true", help="stop the app services before restoring")
    parser.add_argument("--in-place", action="store_true",
                        help="no second copy: stop the app, take a safety backup, restore in place (chosen by "
                             "itself when the server lacks room)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", help="pg_restore jobs (default: the CPU count)")
    parser.add_argument("--identity", metavar="FILE",
                        help="age private key file for an encrypted backup (default: $MIGTOOL_AGE_IDENTITY)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def run(args, config) -> int:
    from migtool.restore.rollback import RollbackRequest, run_cleanup, run_rollback, run_undo

    if args.older_than and not args.cleanup:
        raise ConfigError("--older-than goes with --cleanup", hint="migtool rollback --cleanup --older-than 7d")
    if args.cleanup:
        outcome = run_cleanup(config, args.older_than, dry_run=args.dry_run, yes=args.yes)
    elif args.undo:
        outcome = run_undo(config, yes=args.yes)
    else:
        if not (args.to or args.before):
            raise ConfigError("say what to roll back to: --to BACKUP or --before MIGRATION (or --undo, --cleanup)",
                              hint="migtool backups list")
        outcome = run_rollback(config, RollbackRequest(to=args.to, before=args.before, yes=args.yes,
                                                       stop_first=args.stop_first, in_place=args.in_place,
                                                       jobs=args.jobs, identity=args.identity))
    if args.json:
        output.print_json(outcome.to_json())
        return 0
    _print(outcome)
    return 0


def _print(o) -> None:
    console = output.out()

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    if o.result == "rolled-back":
        say(f"rolled back {o.database} to {o.backup} ({o.method})")
        if o.downtime_seconds is not None:
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in o.downtime_parts.items())
            say(f"app downtime: {o.downtime_seconds:.1f} s ({parts})")
        for line in o.prisma:
            say(f"prisma history: {line}")
        say("pending again: " + (", ".join(o.pending) if o.pending else "none"))
        if o.kept:
            say(f"kept copy: {o.kept} (the database as it was before this rollback)")
            say("undo:      migtool rollback --undo")
            say("when sure: migtool rollback --cleanup --older-than 7d")
        if o.safety_backup:
            say(f"safety backup of the state before: {o.safety_backup} (undo: migtool restore {o.safety_backup} --clean)")
        say("next:      migtool status, then fix the migration and deploy again")
    elif o.result == "undone":
        say(f"swapped the kept copy back in as {o.database}; the replaced one is kept as {o.kept}")
        if o.downtime_seconds is not None:
            say(f"app downtime: {o.downtime_seconds:.1f} s")
        say("pending: " + (", ".join(o.pending) if o.pending else "none"))
    else:
        say(("would drop: " if o.result == "dry-run" else "dropped: ") + (", ".join(o.dropped) or "nothing"))
