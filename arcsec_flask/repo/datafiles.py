"""Data files: rows for stored files, with the facts read from their headers."""

from __future__ import annotations

import json
import math
import mimetypes
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ..domain.errors import Conflict, Invalid, NotFound
from ..domain.ids import now
from ..headers import Card, HeaderInfo
from . import night_grouping
from .header_columns import header_columns
from .queries import OwnedQuery
from .rows import update_row
from .sqlite import transaction

# The values read from headers (docs/API.md, datafiles): exact, and a few ranges.
HEADER_FILTERS = {
    "exposure_time": "f.exposure_time = ?",
    "exposure_time__gte": "f.exposure_time >= ?",
    "exposure_time__lte": "f.exposure_time <= ?",
    "filter_name": "f.filter_name = ?",
    "frame_type": "f.frame_type = ?",
    "instrument_name": "f.instrument_name = ?",
    "telescope_name": "f.telescope_name = ?",
    "binning": "f.binning = ?",
    "target_name": "f.target_name = ?",
    "date_obs__gte": "f.date_obs >= ?",
    "date_obs__lte": "f.date_obs <= ?",
}
# On datafiles alone (a parent by its uuid), so that a page of ids needs no join.
FILTERS = {
    "dataset": "f.dataset_id = (SELECT id FROM datasets WHERE uuid = ?)",
    "name": "f.name = ?",
    "night_log": "f.night_log_id = (SELECT id FROM night_logs WHERE uuid = ?)",
    "observation": "f.observation_id = (SELECT id FROM observations WHERE uuid = ?)",
    "calibration": "f.calibration_id = (SELECT id FROM calibrations WHERE uuid = ?)",
    "is_raw": "f.is_raw = ?",
    "header_status": "f.header_status = ?",
    "tags": "EXISTS (SELECT 1 FROM json_each(f.tags) WHERE json_each.value = ?)",
    **HEADER_FILTERS,
}
# Counts read from the parents' data_files_count (kept by schema.sql's triggers).
COUNTS = {
    "": "SELECT SUM(data_files_count) FROM datasets WHERE owner_id = ?",
    **{
        name: f"SELECT data_files_count FROM {table} WHERE owner_id = ? AND uuid = ?"
        for name, table in (
            ("dataset", "datasets"),
            ("night_log", "night_logs"),
            ("observation", "observations"),
            ("calibration", "calibrations"),
        )
    },
}
DUPLICATE = "A file named '{name}' already exists in dataset {dataset}."
CONTENT_TYPES = {
    ("fits", None): "image/fits",
    ("xisf", None): "application/xisf",
    (None, "gzip"): "application/gzip",
    (None, "bzip2"): "application/x-bzip2",
    (None, "zip"): "application/zip",
}

# Served as they are stored (repo/header_columns.py).
HEADER_FIELDS = (
    "target_name",
    "date_obs_source",
    "exposure_time",
    "filter_name",
    "frame_type",
    "instrument_name",
    "telescope_name",
    "binning",
    "ccd_temperature",
)


@dataclass(frozen=True)
class StoredFile:
    """A file placed in storage, as its row records it."""

    name: str
    storage_path: str
    size: int
    checksum: str
    # Set for a file registered in place: its absolute path, outside the storage folder.
    external_path: str | None = None


# A row's API keys and the SQL giving each, in the order of the dict a row becomes.
COLUMNS = (
    ("id", "f.id"),
    ("pk", "f.id"),
    ("dataset", "d.uuid"),
    ("name", "f.name"),
    ("size", "f.size"),
    ("checksum", "f.checksum"),
    ("is_raw", "f.is_raw"),
    ("tags", "f.tags"),
    ("format", "f.format"),
    ("compression", "f.compression"),
    ("date_obs", "f.date_obs"),
    *((name, f"f.{name}") for name in HEADER_FIELDS),
    ("header_status", "f.header_status"),
    ("header_error", "f.header_error"),
    ("observation", "o.uuid"),
    ("calibration", "c.uuid"),
    ("night_log", "n.uuid"),
    ("creation_date", "f.creation_date"),
    ("storage_path", "f.storage_path"),
    ("external_path", "f.external_path"),
    ("content_type", "f.content_type"),
)
KEYS = tuple(key for key, _ in COLUMNS)


def _dump_values(values: tuple[Any, ...]) -> dict[str, Any]:
    """A row's dict from its values in COLUMNS order: keys zipped on in C, then the two
    values SQLite cannot give as the API has them."""
    row = dict(zip(KEYS, values, strict=True))
    row["is_raw"] = bool(row["is_raw"])
    row["tags"] = list(_decoded_tags(row["tags"]))
    return row


@lru_cache(maxsize=4096)
def _decoded_tags(text: str) -> tuple[str, ...]:
    """A row's tags, decoded once per distinct JSON text (the files of a night or a
    dataset share theirs); a tuple, so that no caller can change what others get."""
    return tuple(json.loads(text))


def _dump(r: sqlite3.Row) -> dict[str, Any]:
    return _dump_values(tuple(r))


QUERY = OwnedQuery(
    columns=", ".join(f"{sql} AS {key}" for key, sql in COLUMNS),
    from_=(
        "datafiles f JOIN datasets d ON d.id = f.dataset_id"
        " LEFT JOIN observations o ON o.id = f.observation_id"
        " LEFT JOIN calibrations c ON c.id = f.calibration_id"
        " LEFT JOIN night_logs n ON n.id = f.night_log_id"
    ),
    alias="f",
    filters=FILTERS,
    dump=_dump,
    dump_values=_dump_values,
    owner="f.owner_id = ?",
    key="id",
    counts=COUNTS,
)
list_ = QUERY.list_
get = QUERY.get


def header(conn: sqlite3.Connection, owner_id: int, file_id: int) -> list[dict[str, Any]]:
    r = conn.execute(
        "SELECT h.header FROM datafiles f JOIN datafile_headers h ON h.datafile_id = f.id"
        " WHERE f.id = ? AND f.owner_id = ?",
        (file_id, owner_id),
    ).fetchone()
    if r is None:
        raise NotFound()
    return json.loads(r["header"])


def by_name(conn: sqlite3.Connection, dataset_id: int, name: str) -> dict[str, Any] | None:
    """The size, checksum and creation date of the dataset's file of that name, if any."""
    found = conn.execute(
        "SELECT id, size, checksum, creation_date FROM datafiles WHERE dataset_id = ? AND name = ?",
        (dataset_id, name),
    ).fetchone()
    return dict(found) if found else None


def check_name_free(conn: sqlite3.Connection, dataset: dict[str, Any], name: str) -> None:
    """Conflict when the dataset already holds a file of that name (checked early, before
    any header is read; insert checks again, atomically)."""
    found = conn.execute(
        "SELECT 1 FROM datafiles WHERE dataset_id = ? AND name = ?", (dataset["id"], name)
    ).fetchone()
    if found is not None:
        raise Conflict(DUPLICATE.format(name=name, dataset=dataset["uuid"]))


def create(
    conn: sqlite3.Connection,
    owner_id: int,
    dataset: dict[str, Any],
    stored: StoredFile,
    info: HeaderInfo,
    fields: dict[str, Any],
    header_error: str | None = None,
    setting: night_grouping.Setting | None = None,
) -> dict[str, Any]:
    """Insert a stored file's row with what its header says, and derive its night log,
    observation or calibration, in one transaction. The same name in the same dataset is a
    Conflict, whoever came first. `setting`: the dataset's night_grouping.Setting, when the
    caller looked it up inside the write transaction this joins (a batch of files looks it
    up once); else it is looked up here."""
    row = _row(owner_id, dataset, stored, info, fields, header_error)
    cards = header_json(info)  # before the write lock is taken: nobody waits for it
    try:
        batched = conn.in_transaction  # a caller's batch: a savepoint of our own
        with transaction(conn), _undone_on_error(conn) if batched else nullcontext():
            # None when the dataset is gone: the INSERT then fails on its foreign key.
            setting = setting or night_grouping.setting_of(conn, dataset["id"])
            groups = night_grouping.Groups()
            if setting is not None:
                groups = night_grouping.groups_of(conn, setting, dataset["id"], row)
            ids = night_grouping.group_ids(groups)
            row["night_log_id"], row["observation_id"], row["calibration_id"] = ids
            file_id = _insert(conn, row)
            _insert_header(conn, file_id, cards)
    except sqlite3.IntegrityError as error:
        if "datafiles.dataset_id, datafiles.name" in str(error):
            raise Conflict(DUPLICATE.format(name=stored.name, dataset=dataset["uuid"])) from error
        # The dataset was deleted while the file came in: the foreign key fails, or first
        # the trigger that copies the dataset's owner_id finds none (NOT NULL).
        if "FOREIGN KEY" in str(error) or "datafiles.owner_id" in str(error):
            raise Invalid(
                f"Dataset {dataset['uuid']} was deleted while the file was being filed.",
                {"dataset": [f'Invalid pk "{dataset["uuid"]}" - object does not exist.']},
            ) from error
        raise
    return _created(conn, owner_id, file_id, row, str(dataset["uuid"]), groups)


@contextmanager
def _undone_on_error(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside a caller's transaction (a batch), a savepoint: a failed create leaves nothing
    behind, not even the groups made for the file before its INSERT failed."""
    conn.execute("SAVEPOINT datafile_create")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO datafile_create")
        conn.execute("RELEASE datafile_create")
        raise
    conn.execute("RELEASE datafile_create")


@cache
def _insert_statement(names: tuple[str, ...]) -> str:
    return f"INSERT INTO datafiles ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    """INSERT the row (names from code, values bound); its id."""
    cursor = conn.execute(_insert_statement(tuple(row)), tuple(row.values()))
    return int(cursor.lastrowid or 0)


# Columns of REAL affinity among those `create` writes: SQLite stores an int as a float.
_REAL_COLUMNS = ("exposure_time", "ccd_temperature")
_INTEGER_COLUMNS = frozenset(
    [
        "id",
        "dataset_id",
        "owner_id",
        "size",
        "is_raw",
        "night_log_id",
        "observation_id",
        "calibration_id",
    ]
)


def _created(
    conn: sqlite3.Connection,
    owner_id: int,
    file_id: int,
    row: dict[str, Any],
    dataset_uuid: str,
    groups: night_grouping.Groups,
) -> dict[str, Any]:
    """The new row as `get` would return it, from the values just written, without reading
    it back. A value of another type than its column holds (SQLite would convert it on the
    way in) is read back instead."""
    values = {**row, "id": file_id, "dataset": dataset_uuid}
    for name in _REAL_COLUMNS:
        value = values[name]
        if isinstance(value, int):
            values[name] = float(value)
    for name, value in values.items():
        expected = int if name in _INTEGER_COLUMNS else float if name in _REAL_COLUMNS else str
        if value is not None and not isinstance(value, expected):
            return get(conn, owner_id, file_id)
    for name, group in (
        ("night_log", groups.night_log),
        ("observation", groups.observation),
        ("calibration", groups.calibration),
    ):
        values[name] = group[1] if group else None
    values["pk"] = file_id
    return _dump_values(tuple(values[key] for key in KEYS))


def _row(
    owner_id: int,
    dataset: dict[str, Any],
    stored: StoredFile,
    info: HeaderInfo,
    fields: dict[str, Any],
    header_error: str | None = None,
) -> dict[str, Any]:
    return {
        "dataset_id": dataset["id"],
        "owner_id": owner_id,
        "name": stored.name,
        "storage_path": stored.storage_path,
        "external_path": stored.external_path,
        "size": stored.size,
        "checksum": stored.checksum,
        "content_type": content_type_of(stored.name, info.format, info.compression),
        "is_raw": int(fields.get("is_raw", True)),
        "tags": _tags(fields.get("tags")),
        "format": info.format,
        "compression": info.compression,
        "header_status": _header_status(info, header_error),
        "header_error": header_error,
        **header_columns(info),
        "creation_date": now(),
    }


def create_many(
    conn: sqlite3.Connection,
    owner_id: int,
    dataset: dict[str, Any],
    files: Iterable[tuple[StoredFile, HeaderInfo, dict[str, Any]]],
) -> int:
    """Insert many stored files' rows at once (rows as `create` writes them, sent with
    executemany) and derive their night logs, observations and calibrations, all in one
    transaction; returns how many. A name already in the dataset is a Conflict and
    nothing is written. For bulk loads (a benchmark's archive, an import)."""
    rows, headers = [], []
    for stored, info, fields in files:
        rows.append(_row(owner_id, dataset, stored, info, fields))
        headers.append((header_json(info), dataset["id"], stored.name))
    if not rows:
        return 0
    names = list(rows[0])
    insert = (
        f"INSERT INTO datafiles ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
    )
    try:
        with transaction(conn):
            last = conn.execute("SELECT IFNULL(MAX(id), 0) FROM datafiles").fetchone()[0]
            conn.executemany(insert, rows)
            conn.executemany(
                "INSERT INTO datafile_headers (datafile_id, header)"
                " SELECT id, ? FROM datafiles WHERE dataset_id = ? AND name = ?",
                headers,
            )
            added = conn.execute(
                "SELECT id FROM datafiles WHERE id > ? ORDER BY id", (last,)
            ).fetchall()
            night_grouping.refresh_files(conn, [r[0] for r in added], new=True)
    except sqlite3.IntegrityError as error:
        if "datafiles.dataset_id, datafiles.name" in str(error):
            raise Conflict(f"A file of these names exists in dataset {dataset['uuid']}.") from error
        raise
    return len(rows)


def header_json(info: HeaderInfo) -> str:
    """The header cards as stored: a JSON list of {key, value, comment}, in file order."""
    return json.dumps([_card(card) for card in info.cards], allow_nan=False)


def _insert_header(conn: sqlite3.Connection, file_id: int, cards: str) -> None:
    """The header cards (header_json) go to their own table: a list never reads them."""
    conn.execute(
        "INSERT INTO datafile_headers (datafile_id, header) VALUES (?, ?)", (file_id, cards)
    )


def content_type_of(name: str, file_format: str, compression: str | None) -> str:
    if compression:
        return CONTENT_TYPES[(None, compression)]
    if file_format != "other":
        return CONTENT_TYPES[(file_format, None)]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _header_status(info: HeaderInfo, header_error: str | None) -> str:
    if header_error is not None:
        return "unreadable"
    return "none" if info.format == "other" else "read"


def _tags(tags: list[str] | None) -> str:
    return json.dumps(list(dict.fromkeys(tags or [])))


def _card(card: Card) -> dict[str, Any]:
    value = card.value
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # JSON has no NaN or infinity
    return {"key": card.key, "value": value, "comment": card.comment}


def update(conn: sqlite3.Connection, owner_id: int, file_id: int, data: dict) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    if "is_raw" in data:
        columns["is_raw"] = int(data["is_raw"])
    if "tags" in data:
        columns["tags"] = _tags(data["tags"])
    with transaction(conn):
        get(conn, owner_id, file_id)
        update_row(conn, "datafiles", file_id, columns)
    return get(conn, owner_id, file_id)


@dataclass(frozen=True)
class Deleted:
    """What deleted rows leave to clean up once committed: `stored`, the storage paths of the
    files of ours to remove (not those registered in place: they are not ours to delete);
    `previewed`, the storage paths of every deleted row, whose cached previews go."""

    stored: list[str]
    previewed: list[str]

    @classmethod
    def of(cls, rows: list[tuple[str, str | None]]) -> Deleted:
        """From (storage_path, external_path) pairs."""
        return cls([p for p, external in rows if not external], [p for p, _ in rows])


def delete(conn: sqlite3.Connection, owner_id: int, file_id: int) -> Deleted:
    """Delete a file's row and update the derived data; returns what to remove after."""
    with transaction(conn):
        found = get(conn, owner_id, file_id)
        conn.execute("DELETE FROM datafiles WHERE id = ?", (file_id,))
        night_grouping.prune(conn)
    return Deleted.of([(found["storage_path"], found["external_path"])])


def all_storage_paths(conn: sqlite3.Connection, in_place: bool = False) -> set[str]:
    """The storage paths of the files in the storage folder (in-place files left out, unless
    `in_place`: their cached previews are named after their storage paths too)."""
    query = "SELECT storage_path FROM datafiles"
    if not in_place:
        query += " WHERE external_path IS NULL"
    return {r[0] for r in conn.execute(query)}


def in_place(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The files registered in place: id, name, external path, size and checksum."""
    query = (
        "SELECT id, name, external_path, size, checksum FROM datafiles"
        " WHERE external_path IS NOT NULL ORDER BY id"
    )
    return [dict(r) for r in conn.execute(query)]


def stored_files(
    conn: sqlite3.Connection, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """The next `limit` files in the storage after id `after_id` (in-place files left out):
    id, storage path, size and checksum, by id (a page at a time: no long read)."""
    query = (
        "SELECT id, storage_path, size, checksum FROM datafiles"
        " WHERE external_path IS NULL AND id > ? ORDER BY id LIMIT ?"
    )
    return [dict(r) for r in conn.execute(query, (after_id, limit))]
