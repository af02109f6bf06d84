"""The `encryption` section and the age identity: validated, from the file or the environment."""

from pathlib import Path

import pytest

from migtool.config import load_config
from migtool.errors import ConfigError, ExitCode

R1 = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
R2 = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg"


def test_recipients_from_the_file_and_identity_from_the_environment(tmp_path):
    (tmp_path / "migtool.yaml").write_text(f"encryption:\n  recipients:\n    - {R1}\n    - {R2}\n")
    c = load_config(environ={"MIGTOOL_AGE_IDENTITY": "keys/me.txt"}, cwd=tmp_path)
    assert c.encryption.recipients == (R1, R2)
    assert c.age_identity == tmp_path / "keys/me.txt"  # a path, relative to the project
    assert c.public_dict()["encryption"] == {"recipients": [R1, R2]}


def test_no_encryption_by_default_and_recipients_from_the_environment(tmp_path):
    assert load_config(environ={}, cwd=tmp_path).encryption is None
    c = load_config(environ={"MIGTOOL_AGE_RECIPIENTS": f"{R1}, {R2}"}, cwd=tmp_path)
    assert c.encryption.recipients == (R1, R2)


@pytest.mark.parametrize("section", [
    "encryption:\n  recipients: []\n",
    "encryption:\n  recipients: [age1notakey]\n",
    f"encryption:\n  recipients: [{R1}]\n  identity: /tmp/k.txt\n",  # the private key never goes in the config
    "encryption: {}\n",
])
def test_bad_encryption_sections_are_config_errors(tmp_path, section):
    (tmp_path / "migtool.yaml").write_text(section)
    with pytest.raises(ConfigError) as err:
        load_config(environ={}, cwd=tmp_path)
    assert err.value.exit_code == ExitCode.USAGE and "encryption" in err.value.message


def test_a_recipient_typo_in_the_environment_is_named(tmp_path):
    with pytest.raises(ConfigError, match="MIGTOOL_AGE_RECIPIENTS"):
        load_config(environ={"MIGTOOL_AGE_RECIPIENTS": R1[:-1]}, cwd=tmp_path)
    assert isinstance(load_config(environ={}, cwd=Path(tmp_path)).public_dict(), dict)
