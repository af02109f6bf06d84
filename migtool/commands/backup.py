"""Not built yet (placeholder until its issue lands)."""

from migtool.errors import ExitCode, MigtoolError


def add_arguments(parser):
    pass


def run(args, config) -> int:
    raise MigtoolError("'migtool backup' is not built yet", exit_code=ExitCode.FAILED)
