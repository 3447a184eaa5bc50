"""A data file's row as the repo gives it: the same dict from a list page (values fetched
as plain tuples) and from `get` (a sqlite3.Row), and tags that are each row's own."""

from __future__ import annotations

from arcsec_flask.repo import datafiles


def test_a_listed_row_is_the_row_get_gives(archive):
    dataset = archive.dataset("M31")
    archive.add(dataset, 3)
    datafiles.update(archive.conn, archive.owner_id, 2, {"tags": ["Ha é", "lrgb"], "is_raw": False})
    count, rows = datafiles.list_(archive.conn, archive.owner_id, {}, 10)
    assert count == 3
    for row in rows:
        alone = datafiles.get(archive.conn, archive.owner_id, row["id"])
        assert row == alone
        assert list(row) == list(alone) == list(datafiles.KEYS)
    assert rows[1]["tags"] == ["Ha é", "lrgb"] and rows[1]["is_raw"] is False
    assert rows[0]["is_raw"] is True and rows[0]["dataset"] == dataset["uuid"]
    assert rows[0]["night_log"] and rows[0]["observation"]


def test_rows_sharing_tags_do_not_share_their_list(archive):
    dataset = archive.dataset("M31")
    archive.add(dataset, 2)
    for file_id in (1, 2):
        datafiles.update(archive.conn, archive.owner_id, file_id, {"tags": ["a", "b"]})
    _, (first, second) = datafiles.list_(archive.conn, archive.owner_id, {}, 10)
    first["tags"].append("changed by a caller")
    assert second["tags"] == ["a", "b"]
    _, again = datafiles.list_(archive.conn, archive.owner_id, {}, 10)
    assert [r["tags"] for r in again] == [["a", "b"], ["a", "b"]]
    datafiles.update(archive.conn, archive.owner_id, 1, {"tags": []})
    assert datafiles.get(archive.conn, archive.owner_id, 1)["tags"] == []
