"""`migtool runbook`: docs/runbook.md as a conversation. Look, pick the backup (by number, by
migration, or from S3), verify it, then roll back / restore to inspect / resolve only, and check.

Each answer is read from a Prompter, so the walk is the same code at a terminal and in tests. When
migtool cannot reach the database or its configuration is broken, it prints the script path
(scripts/restore/postgres-restore.sh) instead: that is the runbook's answer for that situation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from migtool.backup import catalog
from migtool.backup.catalog import LocalBackup
from migtool.backup.display import human_bytes
from migtool.config import Config
from migtool.errors import CheckFailed, MigtoolError
from migtool.restore.confirm import age_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
SCRIPT = "scripts/restore/postgres-restore.sh"


@dataclass
class Prompter:
    stdin: IO[str]
    stdout: IO[str]

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def ask(self, question: str) -> str:
        self.stdout.write(question)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:  # end of input: the operator left
            raise CheckFailed("no answer (end of input); nothing was changed", hint="migtool runbook")
        return line.strip()


def without_migtool(p: Prompter, config: Config | None) -> None:
    backup_dir = config.backup_dir if config else Path("backups")
    p.say("Without migtool (see docs/runbook.md, 'Without migtool'):")
    p.say(f"  cd {backup_dir} && sha256sum -c NAME.sha256 && cd -")
    p.say(f"  {SCRIPT} {backup_dir}/NAME -c          # or: make restore BACKUP={backup_dir}/NAME")
    p.say("  then mark a failed migration rolled back through the migrate service and start the app.")


def backup_line(i: int, b: LocalBackup) -> str:
    m = b.manifest
    last = (m.migrations or {}).get("last_applied") if m and m.migrations else None
    verified = {True: "verified", False: "FAILED verification", None: "not verified"}[b.verified_ok]
    return (f"  {i:>2}. {b.filename}  {age_text(b.created)}, {human_bytes(b.size)}, {b.reason}, {verified}"
            + (f", last applied {last}" if last else ""))


def walk(config: Config, p: Prompter) -> int:
    from migtool.database import open_database
    from migtool.migration_status import State, read_status

    p.say("== 1. Look")
    try:
        db = open_database(config)
        report = read_status(db, config.migrations_dir)
    except MigtoolError as exc:
        p.say(f"migtool cannot read the database: {exc.message}")
        if exc.hint:
            p.say(f"  ({exc.hint})")
        without_migtool(p, config)
        return 1
    failed = [m.name for m in report.with_state(State.FAILED)]
    p.say(f"database {db.name}: last applied {report.last_applied() or 'none'}; "
          f"pending {', '.join(m.name for m in report.will_apply()) or 'none'}; failed {', '.join(failed) or 'none'}")
    if failed:
        p.say(f"A failed migration that changed nothing that matters only needs: migtool resolve --rolled-back {failed[0]}")

    p.say("\n== 2. Pick the backup")
    backup = pick(config, p, db.name)
    if backup is None:
        return 1

    p.say("\n== 3. Verify it")
    from migtool.restore.load import prove_whole

    prove_whole(backup, db)
    p.say(f"{backup.filename} is whole (checksum, the whole stream, a complete dump)")

    p.say("\n== 4. What now?")
    p.say("   1. roll back the database to it (restored beside, then swapped; the current one is kept)")
    p.say("   2. restore it into a new database to look at, touching nothing else")
    if failed:
        p.say(f"   3. only mark {failed[0]} rolled back in Prisma's history")
    p.say("   q. quit (nothing changed)")
    choice = p.ask("> ")
    if choice == "1":
        from migtool.restore.rollback import RollbackRequest, run_rollback

        o = run_rollback(config, RollbackRequest(to=str(backup.path), ask=p.ask, interactive=True), db=db)
        p.say(f"rolled back; kept copy {o.kept or '-'}; pending again: {', '.join(o.pending) or 'none'}")
        p.say("undo: migtool rollback --undo")
    elif choice == "2":
        from migtool.restore.restore import RestoreRequest, run_restore

        name = p.ask(f"new database name [{db.name}_inspect]: ") or f"{db.name}_inspect"
        o = run_restore(config, RestoreRequest(backup=str(backup.path), target_db=name, ask=p.ask,
                                               interactive=True), db=db)
        p.say(f"restored into {o.database}; look with psql, drop it when done")
        return 0
    elif choice == "3" and failed:
        from migtool.restore import prisma

        r = prisma.resolve(config, db, failed[0], "rolled-back")
        p.say(f"{failed[0]} marked rolled back ({r.how})")
    else:
        p.say("nothing changed")
        return 0

    p.say("\n== 5. Check")
    report = read_status(db, config.migrations_dir)
    p.say(f"pending: {', '.join(m.name for m in report.will_apply()) or 'none'}; "
          f"failed: {', '.join(m.name for m in report.with_state(State.FAILED)) or 'none'}")
    p.say("next: fix the migration, then deploy again (migtool deploy-migrate)")
    return 0


def pick(config: Config, p: Prompter, database: str) -> LocalBackup | None:
    backups = catalog.scan(config.backup_dir)[:15]
    if backups:
        for i, b in enumerate(backups, 1):
            p.say(backup_line(i, b))
    else:
        p.say(f"no backups in {config.backup_dir}")
    p.say("Answer a number, `m MIGRATION` (the newest backup taken before it), `s NAME` (from S3), or q.")
    while True:
        answer = p.ask("> ")
        if answer in ("q", "quit", ""):
            p.say("nothing changed")
            return None
        try:
            if answer.isdigit() and 1 <= int(answer) <= len(backups):
                return backups[int(answer) - 1]
            if answer.startswith("m "):
                from migtool.restore.rollback import pick_before

                b = pick_before(catalog.scan(config.backup_dir), answer[2:].strip(), database)
                p.say(f"-> {b.filename}")
                return b
            if answer.startswith("s "):
                from migtool.restore.source import locate

                return locate(config, answer[2:].strip(), from_s3=True)
        except MigtoolError as exc:
            p.say(f"{exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            continue
        p.say("answer a number from the list, m MIGRATION, s NAME, or q")


def print_document(out: IO[str] = sys.stdout) -> None:
    try:
        out.write(DOC.read_text(encoding="utf-8"))
    except OSError:
        out.write(f"docs/runbook.md is not installed here; the short version:\n"
                  f"  migtool backups list; migtool rollback --before MIGRATION; migtool status\n"
                  f"  without Python: {SCRIPT} backups/NAME -c\n")
