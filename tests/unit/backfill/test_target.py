import pytest

from migtool.backfill.target import _service_env
from migtool.compose import ComposeProject


class Printed(ComposeProject):
    """What `docker compose port` printed, without docker."""

    def __init__(self, out: str):
        super().__init__([])
        self.out = out

    def _capture(self, *args, what, timeout=120):
        assert args[0] == "port"
        return self.out


@pytest.mark.parametrize(("printed", "expected"), [
    ("127.0.0.1:49153\n", ("127.0.0.1", 49153)),
    ("0.0.0.0:5433\n", ("127.0.0.1", 5433)),
    ("[::]:5433\n", ("127.0.0.1", 5433)),
    (":0\n", None),  # compose's answer for a port that is not published
    ("\n", None),
])
def test_published_port(printed, expected):
    assert Printed(printed).published_port("postgres", 5432) == expected


def test_service_env_from_a_mapping_or_a_list():
    model = {"services": {"postgres": {"environment": ["POSTGRES_USER=app", "POSTGRES_PASSWORD=a=b"]},
                          "other": {"environment": {"POSTGRES_DB": "x", "EMPTY": None}}}}
    assert _service_env(model, "postgres") == {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "a=b"}
    assert _service_env(model, "other") == {"POSTGRES_DB": "x"}
    assert _service_env(model, "missing") == {}
