"""pg_restore failing because the server went away is the environment (exit 3), not a bad backup."""

from migtool.backup.restore import _tool_failure
from migtool.errors import ExitCode


def test_server_gone_mid_restore_is_an_environment_problem():
    err = (b"pg_restore: error: error returned by PQputCopyData: server closed the connection unexpectedly\n"
           b"\tThis probably means the server terminated abnormally\n")
    exc = _tool_failure("pg_restore", 1, err)
    assert exc.exit_code == ExitCode.ENVIRONMENT
    assert "lost the database" in exc.message and "migtool doctor" in exc.hint


def test_a_real_restore_error_stays_a_failure():
    exc = _tool_failure("pg_restore", 1, b'pg_restore: error: could not execute query: ERROR:  relation "User" '
                                         b"already exists\n")
    assert exc.exit_code == ExitCode.FAILED
    assert 'relation "User" already exists' in exc.message


def test_an_unfinished_copy_that_cannot_be_dropped_is_named_with_its_drop_statement():
    import pytest

    from migtool.errors import EnvironmentProblem, MigtoolError
    from migtool.restore.server import drop_unfinished

    class GoneServer:
        def execute(self, sql):
            raise EnvironmentProblem("database not reachable")

    with pytest.raises(MigtoolError) as exc:
        drop_unfinished(GoneServer(), 'app_restore_20250101120000')
    assert exc.value.exit_code == ExitCode.ENVIRONMENT
    assert 'DROP DATABASE "app_restore_20250101120000" WITH (FORCE);' in exc.value.message
