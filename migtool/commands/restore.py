"""Restore a backup: proven whole first, the current database never touched until the restore has
succeeded.

  migtool restore latest --clean            replace the database's content (kept copy beside it)
  migtool restore NAME --target-db scratch  restore into another (new or empty) database
  migtool restore NAME --from-s3 --clean    fetch from S3 (checksummed) first

BACKUP is a path, a file name in the backup folder, `latest`, or (with s3 configured) a name only in
S3. --clean loads the backup into a new database beside the target, compares its tables and row
counts with the manifest, then swaps names; the previous database is kept as
<db>_before_restore_<stamp>. Without --clean the restore runs in one transaction: all or nothing.
On a terminal you confirm by typing the database's name; elsewhere --yes is required.
An encrypted backup (.age) is decrypted with --identity FILE or $MIGTOOL_AGE_IDENTITY (the key file
is read by age, never by migtool); without one it is refused (exit 2), a key that is not one of its
recipients too (exit 1): nothing is touched either way.
Without Python: scripts/restore/postgres-restore.sh BACKUP -c (same behaviour).
"""

from __future__ import annotations

from migtool import output


def add_arguments(parser) -> None:
    parser.add_argument("backup", metavar="BACKUP", help="path, file name in the backup folder, `latest`, or S3 name")
    parser.add_argument("--clean", "-c", action="store_true",
                        help="replace the database's content (restore beside it, then swap names)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--target-db", metavar="NAME", help="restore into this database (default: the configured one)")
    parser.add_argument("--from-s3", action="store_true", help="download BACKUP from S3 (checksummed) first")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", help="pg_restore jobs (default: the CPU count)")
    parser.add_argument("--identity", metavar="FILE",
                        help="age private key file for an encrypted (.age) backup (default: $MIGTOOL_AGE_IDENTITY)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def run(args, config) -> int:
    from migtool.restore.restore import RestoreRequest, run_restore

    req = RestoreRequest(backup=args.backup, clean=args.clean, yes=args.yes, target_db=args.target_db,
                         from_s3=args.from_s3, jobs=args.jobs, identity=args.identity)
    outcome = run_restore(config, req)
    if args.json:
        output.print_json(outcome.__dict__)
        return 0
    console = output.out()
    console.print(f"restored {outcome.backup} into {outcome.database} in {outcome.seconds:.1f} s "
                  f"({outcome.method}, {outcome.jobs} job(s))", markup=False, highlight=False)
    for w in outcome.warnings:
        output.warn(w)
    if outcome.kept:
        console.print(f"the previous database is kept as {outcome.kept}", markup=False)
        console.print("  undo:    swap it back: migtool rollback --undo   (or DROP it when sure: "
                      "migtool rollback --cleanup)", markup=False)
    console.print("next: migtool status", markup=False)
    return 0
