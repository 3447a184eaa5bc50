"""A package past 4 GiB is a valid ZIP64 archive, and a Range request fetches its end.

The 4.1 GiB frame is a sparse file (no disk used), brought in with `ingest --link` (the
upload path's own code, without sending 4 GiB through a client). Only the last MiB of the
archive is fetched, with a Range request: zipfile reads the ZIP64 end records and the
central directory from it, and the small file stored after the big one (its local header
lies past 4 GiB) is read back and checked byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib

GIB = 1 << 30
BIG = 4 * GIB + 100 * (1 << 20)  # past ZIP's 32-bit offsets and sizes
TAIL = 1 << 20


class _Tail(io.RawIOBase):
    """A file of `size` bytes of which only the last `len(tail)` are known."""

    def __init__(self, size: int, tail: bytes) -> None:
        self.size, self.tail, self.start, self.position = size, tail, size - len(tail), 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: 0, 1: self.position, 2: self.size}[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        assert self.position >= self.start, "zipfile read before the fetched tail"
        chunk = self.tail[self.position - self.start : self.position - self.start + len(buffer)]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def _crc_of_zeros(size: int) -> int:
    crc, block = 0, bytes(1 << 24)
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(size % len(block)), crc)


def test_a_package_past_4_gib_is_zip64_and_its_end_is_fetched_by_range(
    app, client, alice, tmp_path
):
    folder = tmp_path / "night"
    folder.mkdir()
    with open(folder / "a_big.dat", "wb") as big:
        big.truncate(BIG)  # sparse: reads as zeros, takes no blocks
    small = os.urandom(5000)
    (folder / "b_small.txt").write_bytes(small)
    run = app.test_cli_runner().invoke(
        args=["ingest", str(folder), "--dataset", "Big night", "--user", "alice", "--link"]
    )
    assert run.exit_code == 0, run.output
    dataset = client.get("/datasets/", headers=alice.api).json["results"][0]
    package = client.post(
        "/datapackages/",
        json={"name": "Big night", "datasets": [dataset["uuid"]]},
        headers=alice.api,
    ).json
    assert package["size"] == BIG + len(small)

    url = f"/datapackages/{package['uuid']}/archive/"
    with client.head(url, headers=alice.api) as head:
        length = int(head.headers["Content-Length"])
    assert length > BIG + len(small)  # the files, stored, plus headers and directory
    with client.get(url, headers={**alice.api, "Range": f"bytes={length - TAIL}-"}) as response:
        assert response.status_code == 206
        assert response.headers["Content-Range"] == f"bytes {length - TAIL}-{length - 1}/{length}"
        tail = response.data
    assert len(tail) == TAIL

    archive = zipfile.ZipFile(io.BufferedReader(_Tail(length, tail)))
    first, second = archive.infolist()
    assert (first.filename, first.file_size) == ("Big night/a_big.dat", BIG)
    assert (second.filename, second.file_size) == ("Big night/b_small.txt", len(small))
    assert first.compress_type == second.compress_type == zipfile.ZIP_STORED
    assert second.header_offset > 4 * GIB  # only ZIP64 records can say where it is
    assert hashlib.sha256(archive.read(second)).digest() == hashlib.sha256(small).digest()
    crc = _crc_of_zeros(BIG)
    assert (first.CRC, first.file_size) == (crc, BIG)  # CRC over all its bytes
