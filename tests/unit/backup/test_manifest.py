import json
from datetime import UTC, datetime

import pytest

from migtool.backup.manifest import (
    Manifest,
    ManifestError,
    TableInfo,
    checksum_line,
    parse_checksum_file,
    parse_iso,
    tables_from_rows,
)

SHA = "ab" * 32


def make(**kw):
    base = dict(name="db-20240101T000000Z-x.dump.zst", database="db", format="custom", compression="zstd",
                size=10, sha256=SHA, started_at=datetime(2024, 1, 1, tzinfo=UTC),
                finished_at=datetime(2024, 1, 1, 0, 0, 2, 500000, tzinfo=UTC), reason="before deploy",
                row_counts="exact", tables=(TableInfo("public", "users", 3, 2),),
                migrations={"last_applied": "20240101_init", "pending": [], "failed": []})
    base.update(kw)
    return Manifest(**base)


def test_round_trip_through_json():
    m = make()
    d = json.loads(json.dumps(m.to_dict()))
    assert d["duration_seconds"] == 2.5
    assert d["started_at"] == "2024-01-01T00:00:00.000000Z"
    assert Manifest.from_dict(d) == m


def test_unknown_keys_survive_a_round_trip():
    d = make().to_dict()
    d["future_field"] = {"a": 1}
    m = Manifest.from_dict(d)
    assert m.to_dict()["future_field"] == {"a": 1}


@pytest.mark.parametrize("key", ["name", "database", "format", "size", "sha256", "started_at", "manifest_version"])
def test_missing_required_key_is_an_error(key):
    d = make().to_dict()
    del d[key]
    with pytest.raises(ManifestError, match=key):
        Manifest.from_dict(d)


@pytest.mark.parametrize("bad", [{"sha256": "xyz"}, {"size": -1}, {"size": True}, {"row_counts": "some"},
                                 {"started_at": "2024-01-01T00:00:00"}, {"manifest_version": 99},
                                 {"tables": [{"schema": "public"}]}])
def test_bad_values_are_errors(bad):
    d = make().to_dict()
    d.update(bad)
    with pytest.raises(ManifestError):
        Manifest.from_dict(d)


def test_not_an_object():
    with pytest.raises(ManifestError):
        Manifest.from_dict([1, 2])


def test_script_manifest_with_few_fields_is_accepted():
    d = {"manifest_version": 1, "name": "n-20240101T000000Z-x.sql.gz", "database": "n", "format": "sql",
         "compression": "gzip", "size": 5, "sha256": SHA.upper(), "started_at": "2024-01-01T00:00:00.5Z",
         "finished_at": "2024-01-01T00:00:01Z", "created_by": "postgres-backup.sh"}
    m = Manifest.from_dict(d)
    assert m.sha256 == SHA and m.tables == () and m.row_counts == "none" and m.created_by == "postgres-backup.sh"


def test_checksum_file_is_sha256sum_format():
    line = checksum_line(SHA, "a.dump.zst")
    assert line == f"{SHA}  a.dump.zst\n"
    assert parse_checksum_file(line, "a.dump.zst") == SHA
    assert parse_checksum_file(f"{SHA.upper()} *a.dump.zst\n", "a.dump.zst") == SHA  # binary-mode marker


def test_checksum_file_errors():
    with pytest.raises(ManifestError, match="no line"):
        parse_checksum_file(f"{SHA}  other\n", "a.dump.zst")
    with pytest.raises(ManifestError, match="format"):
        parse_checksum_file("garbage\n", "a.dump.zst")
    with pytest.raises(ValueError):
        checksum_line("nothex", "a")
    with pytest.raises(ValueError):
        checksum_line(SHA, "dir/a")


def test_tables_from_rows_keeps_exact_and_estimates():
    rows = [{"schema": "public", "name": "b", "estimated_rows": -1},
            {"schema": "public", "name": "a", "estimated_rows": 1234.0}]
    t = tables_from_rows(rows, {'"public"."a"': 1200, '"public"."b"': 0})
    assert t == (TableInfo("public", "a", 1200, 1234), TableInfo("public", "b", 0, None))
    assert tables_from_rows(rows, None)[0].rows is None


def test_parse_iso_needs_a_zone():
    assert parse_iso("2024-01-01T00:00:00Z").tzinfo is not None
    with pytest.raises(ValueError):
        parse_iso("2024-01-01T00:00:00")
