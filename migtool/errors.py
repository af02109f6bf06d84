"""Errors an operator can act on, and the exit codes scripts rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a check failed or an action was refused
    USAGE = 2  # bad arguments or configuration
    ENVIRONMENT = 3  # docker, the database, the disk or S3 is not usable
    INTERNAL = 4  # a bug in migtool: please report it with -v output
    INTERRUPTED = 130


class MigtoolError(Exception):
    """A failure with a message a tired operator understands and the next thing to try."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class CheckFailed(MigtoolError):
    exit_code = ExitCode.FAILED


class ConfigError(MigtoolError):
    exit_code = ExitCode.USAGE


class EnvironmentProblem(MigtoolError):
    exit_code = ExitCode.ENVIRONMENT
