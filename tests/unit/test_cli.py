import subprocess
import sys

import pytest

from migtool import __version__
from migtool.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert name in text
    assert "exit codes" in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: migtool " + name in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["doctor", "--no-such-flag"])
    assert exc.value.code == 2


def test_no_command_exits_2(capsys):
    assert main([]) == 2


def test_config_error_is_one_red_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "migtool.yaml").write_text("tagret: direct\n")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "unknown key 'tagret'" in err
    assert "Traceback" not in err


def test_global_flags_before_or_after_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for env in ("MIGTOOL_TARGET", "DATABASE_URL"):
        monkeypatch.delenv(env, raising=False)
    assert main(["--target", "direct", "config", "--json"]) == 0
    assert '"target": "direct"' in capsys.readouterr().out
    assert main(["config", "--json", "--target", "direct", "--backup-dir", "bk"]) == 0
    out = capsys.readouterr().out
    assert '"target": "direct"' in out and str(tmp_path / "bk") in out


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "migtool", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and __version__ in res.stdout
