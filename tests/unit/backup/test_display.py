from migtool.backup.display import ByteProgress, human_bytes


def test_human_bytes():
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 2**20) == "5.0 MiB"
    assert human_bytes(3 * 2**40) == "3.0 TiB"
    assert human_bytes(2**60) == f"{2**20:.1f} TiB"


def test_line_mentions_done_total_rate_and_extra():
    p = ByteProgress("uploading", total=10 * 2**20, enabled=False)
    p.update(5 * 2**20, "part 2")
    line = p.line()
    assert line.startswith("uploading: 5.0 MiB of 10.0 MiB, part 2, ")
    assert line.endswith(" s") and "/s" in line
    p.advance(2**20)
    assert p.completed == 6 * 2**20
