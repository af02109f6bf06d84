"""The emergency runbook, interactively: look, pick the backup (by time, by migration, or from S3),
verify it, roll back / restore to inspect / resolve only, and check. Each change still asks you to
type the database's name.

  migtool runbook            at a terminal: the walk-through
  migtool runbook --print    docs/runbook.md (also what you get without a terminal)

When migtool cannot reach the database or its configuration is broken, it prints the script path
(scripts/restore/postgres-restore.sh), which needs neither.
"""

from __future__ import annotations

import sys

# A broken migtool.yaml is one of the situations the runbook is for: it loads the config itself.
LOADS_CONFIG = False


def add_arguments(parser) -> None:
    parser.add_argument("--print", dest="print_doc", action="store_true", help="print docs/runbook.md and exit")
    parser.add_argument("--interactive", action="store_true",
                        help="ask on stdin even without a terminal (answers piped in)")


def run(args, config) -> int:
    from migtool.cli import CONFIG_FLAGS
    from migtool.config import load_config
    from migtool.errors import ConfigError
    from migtool.restore.runbook import Prompter, print_document, walk, without_migtool

    if args.print_doc or not (args.interactive or sys.stdin.isatty()):
        print_document()
        return 0
    prompter = Prompter(sys.stdin, sys.stderr)
    try:
        flags = {k: getattr(args, k) for k in CONFIG_FLAGS if hasattr(args, k)}
        config = load_config(getattr(args, "config", None), flags=flags)
    except ConfigError as exc:
        prompter.say(f"migtool's configuration is broken: {exc.message}")
        without_migtool(prompter, None)
        return 1
    return walk(config, prompter)
