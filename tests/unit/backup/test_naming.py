from datetime import UTC, datetime, timedelta, timezone

import pytest

from migtool.backup import naming

WHEN = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def test_name_has_database_utc_time_reason_and_extension():
    n = naming.build_name("shop", WHEN, "Before deploy #42!", "custom", "zstd")
    assert n.filename == "shop-20240506T070809Z-before-deploy-42.dump.zst"


@pytest.mark.parametrize(("fmt", "comp", "ext"), [("sql", "gzip", "sql.gz"), ("sql", "zstd", "sql.zst"),
                                                 ("custom", "gzip", "dump.gz"), ("custom", "zstd", "dump.zst")])
def test_extension_tells_format_and_compression(fmt, comp, ext):
    n = naming.build_name("db", WHEN, "x", fmt, comp)
    assert n.filename.endswith("." + ext)
    parsed = naming.parse_name(n.filename)
    assert (parsed.format, parsed.compression) == (fmt, comp)


def test_local_time_is_converted_to_utc():
    local = WHEN.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert "20240506T070809Z" in naming.build_name("db", local, "r", "sql", "gzip").filename


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        naming.timestamp(datetime(2024, 1, 1))


def test_round_trip_parse():
    n = naming.build_name("my-app.prod", WHEN, "pre migrate", "sql", "zstd", attempt=3)
    parsed = naming.parse_name(n.filename)
    assert parsed == n
    assert parsed.reason == "pre-migrate-3"
    assert parsed.created == WHEN.replace(microsecond=0)


@pytest.mark.parametrize("reason,expected", [
    ("", "manual"), (None, "manual"), ("!!!", "manual"), ("Ünïcode Ω", "n-code"),
    ("a" * 60, "a" * 40), ("x" * 39 + " y", "x" * 39),
])
def test_reason_slug(reason, expected):
    assert naming.slug(reason) == expected


def test_database_names_are_made_file_name_safe():
    n = naming.build_name("../etc/passwd db", WHEN, "r", "custom", "zstd")
    assert "/" not in n.filename and " " not in n.filename
    assert not n.filename.startswith(".")
    assert naming.parse_name(n.filename) is not None
    assert naming.safe_database("...") == "db"


@pytest.mark.parametrize("other", [
    "notes.txt", "shop-20240506T070809Z-x.dump.zst.json", "shop-20240506T070809Z-x.dump.zst.sha256",
    ".shop-20240506T070809Z-x.dump.zst.partial", "shop-20240506T070809Z-x.dump", "shop-2024-x.dump.zst",
    "shop-20241306T070809Z-x.dump.zst",  # month 13
    "shop-20240506T070809Z-X.dump.zst",  # our slugs are lowercase
])
def test_other_files_are_not_ours(other):
    assert naming.parse_name(other) is None


def test_side_and_partial_names():
    f = "shop-20240506T070809Z-x.dump.zst"
    assert naming.side_names(f) == (f + ".json", f + ".sha256", f + ".verified.json")
    assert naming.partial_name(f) == "." + f + ".partial"
    assert naming.parse_partial(naming.partial_name(f)) == f
    assert naming.parse_partial(naming.partial_name(f + ".json")) == f
    assert naming.parse_partial(".notes.txt.partial") is None
    assert naming.parse_partial(f) is None


def test_attempt_limits():
    with pytest.raises(ValueError):
        naming.build_name("db", WHEN, "r", "custom", "zstd", attempt=0)
    with pytest.raises(ValueError):
        naming.build_name("db", WHEN, "r", "custom", "brotli")


@pytest.mark.parametrize(("fmt", "comp"), [("sql", "gzip"), ("custom", "zstd")])
def test_an_encrypted_backup_adds_age_and_round_trips(fmt, comp):
    plain = naming.build_name("db", WHEN, "x", fmt, comp)
    enc = naming.build_name("db", WHEN, "x", fmt, comp, encrypted=True)
    assert enc.filename == plain.filename + ".age" and naming.is_encrypted_name(enc.filename)
    assert naming.parse_name(enc.filename) == enc and naming.parse_name(plain.filename) == plain
    assert naming.parse_name(plain.filename).encrypted is False
    assert naming.parse_partial(naming.partial_name(enc.filename)) == enc.filename
    assert naming.parse_partial("." + naming.manifest_name(enc.filename) + ".partial") == enc.filename


def test_age_must_be_the_last_suffix_of_a_known_extension():
    assert naming.parse_name("db-20240506T070809Z-x.age") is None
    assert naming.parse_name("db-20240506T070809Z-x.dump.zst.age.age") is None
