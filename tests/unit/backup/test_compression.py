import zlib

import pytest
import zstandard

from migtool.backup.compression import Corrupt, Decompressor, Truncated, ZlibGzipCompressor, ZstdCompressor

DATA = b"".join(b"row %d,some text that repeats\n" % i for i in range(200_000))


def compress(cls, data=DATA):
    out = []
    c = cls(out.append)
    for i in range(0, len(data), 1 << 20):
        c.write(data[i:i + (1 << 20)])
    c.finish()
    return b"".join(out)


@pytest.mark.parametrize(("cls", "kind"), [(ZstdCompressor, "zstd"), (ZlibGzipCompressor, "gzip")])
def test_round_trip_and_end_marker(cls, kind):
    blob = compress(cls)
    assert len(blob) < len(DATA) / 3
    d = Decompressor(kind)
    assert d.decompress(blob) == DATA
    d.finish()


def test_our_zstd_is_readable_by_standard_zstd_and_has_a_checksum():
    blob = compress(ZstdCompressor)
    params = zstandard.get_frame_parameters(blob)
    assert params.has_checksum
    assert zstandard.ZstdDecompressor().decompressobj().decompress(blob) == DATA


def test_gzip_is_standard_gzip():
    assert zlib.decompress(compress(ZlibGzipCompressor), 31) == DATA


@pytest.mark.parametrize(("cls", "kind"), [(ZstdCompressor, "zstd"), (ZlibGzipCompressor, "gzip")])
def test_truncation_is_detected(cls, kind):
    blob = compress(cls)
    for cut in (len(blob) - 1, len(blob) // 2, 10):
        d = Decompressor(kind)
        d.decompress(blob[:cut])
        with pytest.raises(Truncated):
            d.finish()


@pytest.mark.parametrize(("cls", "kind"), [(ZstdCompressor, "zstd"), (ZlibGzipCompressor, "gzip")])
def test_flipped_byte_is_detected(cls, kind):
    blob = bytearray(compress(cls))
    blob[len(blob) // 2] ^= 0x40
    d = Decompressor(kind)
    with pytest.raises((Corrupt, Truncated)):
        d.decompress(bytes(blob))
        d.finish()


@pytest.mark.parametrize(("cls", "kind"), [(ZstdCompressor, "zstd"), (ZlibGzipCompressor, "gzip")])
def test_concatenated_frames_and_trailing_garbage(cls, kind):
    blob = compress(cls, b"abc" * 1000)
    d = Decompressor(kind)
    assert d.decompress(blob + blob) == b"abc" * 2000
    d.finish()
    d = Decompressor(kind)
    with pytest.raises((Corrupt, Truncated)):
        d.decompress(blob + b"not a frame at all, just garbage")
        d.finish()


def test_empty_input_is_truncated():
    with pytest.raises(Truncated, match="empty"):
        Decompressor("zstd").finish()
