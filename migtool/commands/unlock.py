"""List the sessions holding the deploy lock (ours) or Prisma's migrate lock (72707369), and end one.

    migtool unlock                         who holds them, since when, from where
    migtool unlock --terminate PID --yes   end that database session (pg_terminate_backend); refused
                                           for any PID that holds neither lock

Ending a session releases its locks; a Prisma lock left by a killed deploy otherwise makes every
later deploy fail with P1002.
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--terminate", type=int, metavar="PID", help="end this database session")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before ending it")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args, config) -> int:
    import sys

    from rich.markup import escape

    from migtool import output
    from migtool.database import open_database
    from migtool.deploy.lock import DEPLOY_LOCK_KEY, lock_holders, terminate_holder
    from migtool.errors import CheckFailed
    from migtool.migrations.table import PRISMA_LOCK_KEY

    db = open_database(config)
    if args.terminate is None:
        holders = lock_holders(db)
        if args.json:
            output.print_json({"holders": [h.to_json() for h in holders],
                               "keys": {"deploy": DEPLOY_LOCK_KEY, "prisma": PRISMA_LOCK_KEY}})
            return 0
        if not holders:
            output.out().print(f"no session holds the deploy lock ({DEPLOY_LOCK_KEY}) or Prisma's migrate lock "
                               f"({PRISMA_LOCK_KEY}) on {escape(db.describe())}")
            return 0
        for h in holders:
            output.out().print(f"{h.lock:7} pid {h.pid}: {escape(h.describe())}")
        output.err().print(f"[dim]next:[/dim] if that run is gone: migtool unlock --terminate {holders[0].pid} --yes")
        return 0
    if not args.yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise CheckFailed(f"not ending database session {args.terminate} without --yes",
                              hint=f"migtool unlock --terminate {args.terminate} --yes")
        from rich.prompt import Confirm

        if not Confirm.ask(f"end database session {args.terminate}?", console=output.err(), default=False):
            raise CheckFailed("cancelled; nothing was changed")
    holder = terminate_holder(db, args.terminate)
    if args.json:
        output.print_json({"terminated": holder.to_json()})
    else:
        output.out().print(f"ended database session {holder.pid}, which held the {holder.lock} lock: "
                           f"{escape(holder.describe())}")
    return 0
