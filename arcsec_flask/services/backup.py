"""Backups of a running server's data folder, their verification, and restores.

A backup is a folder:

    arcsec.sqlite3   a consistent snapshot of the database (rollback-journal mode, one file)
    manifest.jsonl   one line per stored file of the snapshot: storage_path, size, sha256,
                     as the snapshot's `datafiles` rows say
    files/<path>     the stored files themselves (with_files=True), read-only (0444)
    secret_key       the data folder's session key, when there is one (0600)
    backup.json      the summary, written last

The snapshot uses SQLite's online backup API in one step (`Connection.backup(pages=-1)`):
one read transaction copies every page as of one instant. In WAL mode readers and writers
never block each other, so the server keeps serving and committing meanwhile, and the page
copy costs no more than reading the file (VACUUM INTO would also be consistent, but
rebuilds every table and index: more CPU and a longer read transaction on a big database).
The manifest is read from the snapshot, never from the live database, so it lists exactly
the files the snapshot's rows refer to. Those files already exist when the snapshot is
taken (the server places a file before committing its row) and a storage path is never
rewritten, only deleted: a file deleted after the snapshot is reported as `vanished`.

The backup is built under a hidden temporary name next to `dest` and renamed at the end, so
a folder named like a backup is always a whole one.

With S3 storage the files are read from the bucket (`stored`: a reader per storage path)
into the same `files/` folder, hashed as they are written, and `--previous` links what
the earlier backup holds unchanged, so a nightly backup downloads only the night's new
objects. A restore under S3 (`bucket`) restores the database and checks the bucket holds
every file the rows name (one listing: sizes); the files stay in the bucket, and any that
is missing there is brought back from a backup's files/ with migrate-storage.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..repo.sqlite import make_private
from ..storage import Backend, Readable

FORMAT = "arcsec-flask-backup"
VERSION = 1
DATABASE = "arcsec.sqlite3"
MANIFEST = "manifest.jsonl"
SUMMARY = "backup.json"
FILES = "files"
SECRET_KEY = "secret_key"
TMP = ".tmp"  # the storage folder's upload parts: never part of a backup
STORED_MODE = 0o644  # as the server writes them: nginx's workers read them
BACKUP_MODE = 0o444  # hard-linked between backups: one write would change them all
CHUNK = 1 << 20

Progress = Callable[[int, int], None]  # (files done, files in all)
Entries = dict[str, tuple[int, str]]  # storage_path -> (size, sha256)
# A reader of the stored file at a storage path; FileNotFoundError when it is gone.
Opener = Callable[[str], Readable]


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is for the operator."""


class AlreadyExists(BackupError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists: give a new folder for the backup.")


class NotABackup(BackupError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is not a complete backup (no {SUMMARY}): an interrupted backup leaves "
            "only a hidden .partial folder, never a folder with this name."
        )


class NotEmpty(BackupError):
    def __init__(self, what: Path) -> None:
        super().__init__(
            f"{what} already exists: a restore only fills an empty data folder. "
            "Move the current data folder aside (or restore into a new one) and try again."
        )


class Corrupt(BackupError):
    """The backup's database cannot be trusted: nothing is restored."""


def backup(
    database: Path,
    files_dir: Path,
    dest: Path,
    with_files: bool = False,
    previous: Path | None = None,
    progress: Progress | None = None,
    secret_key: Path | None = None,
    stored: Opener | None = None,
) -> dict[str, Any]:
    """Back up the database (and with `with_files` the stored files) into the new folder
    `dest`, while the server runs.

    A file whose storage path, size and sha256 match the manifest of the backup
    `previous` is hard-linked from there (copied when the link fails, e.g. across file
    systems); the others are copied and hashed on the way, read from `files_dir` or,
    when given, through `stored` (the objects of an S3 bucket). `secret_key` defaults to
    `secret_key` next to the database. Returns the summary also written to backup.json;
    `ok` is False when the snapshot fails its integrity check or a stored file does not
    match its row (both are still backed up: it may be the best copy there is).
    """
    started = time.monotonic()
    database, files_dir, dest = Path(database), Path(files_dir), Path(dest)
    if not database.is_file():
        raise BackupError(f"No database at {database}.")
    if dest.exists() or dest.is_symlink():
        raise AlreadyExists(dest)
    earlier = None
    if previous is not None and with_files:
        previous = Path(previous)
        linkable = read_summary(previous)["with_files"]
        earlier = (previous / FILES, read_manifest(previous) if linkable else {})
    dest.parent.mkdir(parents=True, exist_ok=True)
    # mkdtemp makes it 0700: the database holds key and password hashes.
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        _snapshot(database, work / DATABASE)
        with _read_only(work / DATABASE) as conn:
            integrity = _integrity(conn)
            schema_version = conn.execute("PRAGMA user_version").fetchone()[0]
            entries = _rows(conn)
        lines = (
            json.dumps({"storage_path": path, "size": size, "sha256": checksum}) + "\n"
            for path, (size, checksum) in entries.items()
        )
        _write_durably(work / MANIFEST, lines)
        key = secret_key if secret_key is not None else database.parent / SECRET_KEY
        has_key = Path(key).is_file()
        if has_key:
            _copy(Path(key), work / SECRET_KEY, 0o600)
        counts = {"copied": 0, "bytes_copied": 0, "linked": 0, "bytes_linked": 0}
        vanished: list[str] = []
        mismatched: list[str] = []
        if with_files:
            opener = stored or (lambda path: (files_dir / path).open("rb"))
            counts, vanished, mismatched = _copy_files(
                entries, opener, work / FILES, earlier, progress
            )
        summary = {
            "format": FORMAT,
            "version": VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "with_files": with_files,
            # Resolved: `previous` is often a `latest` symlink, moved on by the next night.
            "previous": str(previous.resolve()) if previous is not None and earlier else None,
            "database_bytes": (work / DATABASE).stat().st_size,
            "database_sha256": _hash(work / DATABASE)[1],
            "schema_version": schema_version,
            "integrity": integrity,
            "files": len(entries),
            "file_bytes": sum(size for size, _ in entries.values()),
            **counts,
            "vanished": vanished,
            "mismatched": mismatched,
            "secret_key": has_key,
            "ok": integrity == ["ok"] and not mismatched,
        }
        summary["duration_s"] = round(time.monotonic() - started, 3)
        _write_durably(work / SUMMARY, [json.dumps(summary, indent=2) + "\n"])
        _fsync_tree(work)
        os.rename(work, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {**summary, "path": str(dest)}


def verify(backup_dir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Check a backup without restoring it: the database against its recorded sha256 and
    its own integrity check, the manifest against the database's rows, and (when the
    backup has its files) every file's size and sha256 against the manifest."""
    started = time.monotonic()
    backup_dir = Path(backup_dir)
    summary = read_summary(backup_dir)
    entries = read_manifest(backup_dir)
    sha256_ok = _hash(backup_dir / DATABASE)[1] == summary["database_sha256"]
    try:
        with _read_only(backup_dir / DATABASE) as conn:
            integrity = _integrity(conn)
            manifest_ok = _rows(conn) == entries
    except sqlite3.DatabaseError as error:  # e.g. "file is not a database"
        integrity, manifest_ok = [str(error)], False
    report: dict[str, Any] = {
        "path": str(backup_dir),
        "created": summary["created"],
        "with_files": summary["with_files"],
        "database_sha256_ok": sha256_ok,
        "integrity": integrity,
        "manifest_ok": manifest_ok,
        "files": len(entries),
        "checked": 0,
        "bytes_checked": 0,
        "missing": [],
        "mismatched": [],
        "vanished": [],
        "unexpected": [],
    }
    if summary["with_files"]:
        known_gone = set(summary["vanished"])
        found = _check_files(entries, backup_dir / FILES, progress)
        report.update(found)
        report["vanished"] = [p for p in found["missing"] if p in known_gone]
        report["missing"] = [p for p in found["missing"] if p not in known_gone]
        report["unexpected"] = sorted(set(_walk(backup_dir / FILES)) - entries.keys())
    report["ok"] = (
        sha256_ok
        and integrity == ["ok"]
        and manifest_ok
        and not report["missing"]
        and not report["mismatched"]
    )
    report["duration_s"] = round(time.monotonic() - started, 3)
    return report


def restore(
    backup_dir: Path,
    data_dir: Path,
    files_dir: Path | None = None,
    database: Path | None = None,
    progress: Progress | None = None,
    bucket: Backend | None = None,
) -> dict[str, Any]:
    """Bring a backup back into an empty data folder.

    Refuses (NotEmpty) a folder holding a database, a different secret key, or, when the
    backup has its files, any stored file. Raises Corrupt, restoring nothing, when the
    backup's database fails its sha256, its integrity check or its match with the
    manifest. Each file is checked (size, sha256) as it is copied; a file that does not
    match is not placed and is listed in `mismatched`. A backup without files is checked
    against the files already in `files_dir` (copied there by the operator): `missing`
    and `mismatched` list what is wrong. The database is renamed into place last, so an
    interrupted restore never leaves a server-ready folder. `ok` is True when every row
    has its file, intact (files that `vanished` during the backup aside).

    With `bucket` (S3 storage) only the database (and secret key) is restored: the files
    stay in the bucket, which must hold every one the rows name, at its size (one
    listing; `missing` and `mismatched` list the others; nothing is hashed).
    """
    started = time.monotonic()
    backup_dir, data_dir = Path(backup_dir), Path(data_dir)
    files_dir = Path(files_dir) if files_dir is not None else data_dir / FILES
    database = Path(database) if database is not None else data_dir / DATABASE
    summary = read_summary(backup_dir)
    entries = read_manifest(backup_dir)
    copy_files = summary["with_files"] and bucket is None
    _refuse_unless_empty(backup_dir, database, files_dir, data_dir, copy_files)
    database.parent.mkdir(parents=True, exist_ok=True)
    if bucket is None:
        files_dir.mkdir(parents=True, exist_ok=True)
    pending = database.with_name(database.name + ".restoring")
    try:
        _restore_database(backup_dir / DATABASE, pending, summary, entries)
        if bucket is not None:
            found = _check_bucket(entries, bucket)
        elif copy_files:
            found = _restore_files(entries, backup_dir / FILES, files_dir, progress)
        else:
            found = _check_files(entries, files_dir, progress)
            found["restored"], found["bytes_restored"] = 0, 0
        if (backup_dir / SECRET_KEY).is_file() and not (data_dir / SECRET_KEY).exists():
            _copy(backup_dir / SECRET_KEY, data_dir / SECRET_KEY, 0o600)
        os.rename(pending, database)
        _fsync_dir(database.parent)
    finally:
        pending.unlink(missing_ok=True)
    known_gone = set(summary["vanished"])
    missing = [p for p in found["missing"] if p not in known_gone]
    return {
        "database": str(database),
        "database_bytes": database.stat().st_size,
        "schema_version": summary["schema_version"],
        "files_dir": str(files_dir) if bucket is None else None,
        "files_in_bucket": bucket is not None,
        "with_files": summary["with_files"],
        "files": len(entries),
        **found,
        "missing": missing,
        "vanished": [p for p in found["missing"] if p in known_gone],
        "secret_key": (data_dir / SECRET_KEY).is_file(),
        "ok": not missing and not found["mismatched"],
        "duration_s": round(time.monotonic() - started, 3),
    }


def read_summary(backup_dir: Path) -> dict[str, Any]:
    """The backup.json of a complete backup; NotABackup otherwise."""
    path = Path(backup_dir) / SUMMARY
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError) as error:
        raise NotABackup(Path(backup_dir)) from error
    if summary.get("format") != FORMAT or summary.get("version") != VERSION:
        raise NotABackup(Path(backup_dir))
    return summary


def read_manifest(backup_dir: Path) -> Entries:
    entries: Entries = {}
    with (Path(backup_dir) / MANIFEST).open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            entries[item["storage_path"]] = (item["size"], item["sha256"])
    return entries


# -- the database


def _snapshot(database: Path, target: Path) -> None:
    source = sqlite3.connect(database, timeout=30)
    try:
        make_private(target)  # 0600: it holds key and password hashes (SQLite makes 0644)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy, pages=-1)  # one step: one read transaction, one instant
            # The WAL flag comes with the pages: drop it, so the backup is one file.
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()
    finally:
        source.close()


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _integrity(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("PRAGMA integrity_check")]


def _rows(conn: sqlite3.Connection) -> Entries:
    # Files registered in place (external_path, migration 5) are not in the storage folder:
    # the backup holds their rows, not their bytes. An older snapshot has no such column.
    columns = {r[1] for r in conn.execute("PRAGMA table_info(datafiles)")}
    stored = " WHERE external_path IS NULL" if "external_path" in columns else ""
    query = f"SELECT storage_path, size, checksum FROM datafiles{stored} ORDER BY storage_path"
    return {path: (size, checksum) for path, size, checksum in conn.execute(query)}


def _restore_database(source: Path, pending: Path, summary: dict, entries: Entries) -> None:
    if _copy(source, pending, 0o600)[1] != summary["database_sha256"]:
        raise Corrupt(f"{source} does not match the sha256 recorded at backup time.")
    conn = sqlite3.connect(pending)
    try:
        if (integrity := _integrity(conn)) != ["ok"]:
            raise Corrupt(f"{source} fails its integrity check: {'; '.join(integrity[:5])}")
        if _rows(conn) != entries:
            raise Corrupt(f"{source} and the backup's {MANIFEST} list different files.")
        conn.execute("PRAGMA journal_mode = WAL")  # as the server runs it
    except sqlite3.DatabaseError as error:
        raise Corrupt(f"{source} cannot be read as a database: {error}") from error
    finally:
        conn.close()


def _refuse_unless_empty(
    backup_dir: Path, database: Path, files_dir: Path, data_dir: Path, with_files: bool
) -> None:
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        if path.exists():
            raise NotEmpty(path)
    if with_files and (stored := next(_walk(files_dir), None)) is not None:
        raise NotEmpty(files_dir / stored)
    key = data_dir / SECRET_KEY
    ours = backup_dir / SECRET_KEY
    if key.exists() and ours.is_file() and key.read_bytes() != ours.read_bytes():
        raise NotEmpty(key)


# -- the files


def _copy_files(
    entries: Entries,
    opener: Opener,
    target: Path,
    previous: tuple[Path, Entries] | None,
    progress: Progress | None,
) -> tuple[dict[str, int], list[str], list[str]]:
    earlier_files, earlier = previous or (target, {})
    counts = {"copied": 0, "bytes_copied": 0, "linked": 0, "bytes_linked": 0}
    vanished, mismatched = [], []
    for done, (path, (size, checksum)) in enumerate(entries.items(), start=1):
        if progress is not None:
            progress(done - 1, len(entries))
        copy = target / path
        copy.parent.mkdir(parents=True, exist_ok=True)
        if earlier.get(path) == (size, checksum) and _link(earlier_files / path, copy, size):
            counts["linked"] += 1
            counts["bytes_linked"] += size
            continue
        try:
            got = _copy_from(opener(path), copy, BACKUP_MODE)
        except FileNotFoundError:
            vanished.append(path)  # deleted since the snapshot
            continue
        counts["copied"] += 1
        counts["bytes_copied"] += got[0]
        if got != (size, checksum):
            mismatched.append(path)
    if progress is not None:
        progress(len(entries), len(entries))
    return counts, vanished, mismatched


def _link(source: Path, target: Path, size: int) -> bool:
    try:
        if source.stat().st_size != size:
            return False
        os.link(source, target)
    except OSError as error:
        if error.errno in (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.ENOENT, errno.EACCES):
            return False  # another file system, too many links, or gone: copy instead
        raise
    return True


def _restore_files(
    entries: Entries, source: Path, files_dir: Path, progress: Progress | None
) -> dict[str, Any]:
    parts = files_dir / TMP
    parts.mkdir(parents=True, exist_ok=True)
    part = parts / f"restore-{os.getpid()}.part"
    missing, mismatched, restored, restored_bytes = [], [], 0, 0
    for done, (path, expected) in enumerate(entries.items(), start=1):
        if progress is not None:
            progress(done - 1, len(entries))
        try:
            got = _copy(source / path, part, STORED_MODE)
        except FileNotFoundError:
            missing.append(path)
            continue
        if got != expected:
            part.unlink()
            mismatched.append(path)  # not placed: the row stays without its file
            continue
        final = files_dir / path
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, final)
        restored += 1
        restored_bytes += got[0]
    if progress is not None:
        progress(len(entries), len(entries))
    _fsync_tree(files_dir)
    return {
        "restored": restored,
        "bytes_restored": restored_bytes,
        "checked": restored + len(mismatched),
        "bytes_checked": restored_bytes,
        "missing": missing,
        "mismatched": mismatched,
    }


def _check_files(entries: Entries, root: Path, progress: Progress | None) -> dict[str, Any]:
    missing, mismatched, checked, checked_bytes = [], [], 0, 0
    for done, (path, expected) in enumerate(entries.items(), start=1):
        if progress is not None:
            progress(done - 1, len(entries))
        try:
            got = _hash(root / path)
        except FileNotFoundError:
            missing.append(path)
            continue
        checked += 1
        checked_bytes += got[0]
        if got != expected:
            mismatched.append(path)
    if progress is not None:
        progress(len(entries), len(entries))
    return {
        "checked": checked,
        "bytes_checked": checked_bytes,
        "missing": missing,
        "mismatched": mismatched,
    }


def _check_bucket(entries: Entries, bucket: Backend) -> dict[str, Any]:
    """Every row's object present in the bucket at its size, from one listing."""
    listed = bucket.inventory()
    missing = [path for path in entries if path not in listed]
    mismatched = [
        path for path, (size, _) in entries.items() if path in listed and listed[path].size != size
    ]
    found = [path for path in entries if path in listed]
    return {
        "restored": 0,
        "bytes_restored": 0,
        "checked": len(found),
        "bytes_checked": sum(listed[path].size for path in found),
        "missing": missing,
        "mismatched": mismatched,
    }


def _walk(root: Path) -> Iterator[str]:
    """Relative paths of the stored files under `root`, upload parts excluded."""
    for folder, dirs, names in os.walk(root):
        if Path(folder) == root and TMP in dirs:
            dirs.remove(TMP)
        for name in names:
            yield str((Path(folder) / name).relative_to(root))


# -- bytes


def _copy(source: Path, target: Path, mode: int) -> tuple[int, str]:
    """Copy and fsync, hashing on the way: (size, sha256 hex) of what was copied."""
    return _copy_from(source.open("rb"), target, mode)


def _copy_from(reader: Readable, target: Path, mode: int) -> tuple[int, str]:
    """Copy what `reader` gives (closing it) to `target`, fsynced, hashed on the way."""
    digest, size = hashlib.sha256(), 0
    with reader:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    os.chmod(target, mode)  # the mode given to os.open is masked by the umask
    return size, digest.hexdigest()


def _hash(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    buffer = memoryview(bytearray(CHUNK))
    with path.open("rb") as reader:
        while count := reader.readinto(buffer):
            digest.update(buffer[:count])
            size += count
    return size, digest.hexdigest()


def _write_durably(path: Path, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.writelines(lines)
        out.flush()
        os.fsync(out.fileno())


def _fsync_tree(root: Path) -> None:
    """fsync every folder under `root` (files are fsynced as they are written), so that
    the final rename cannot reach the disk before their entries."""
    for folder, _dirs, _names in os.walk(root):
        _fsync_dir(Path(folder))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
