"""A deep `offset` into a list whose ids form one unbroken range is entered by id
(queries.OwnedQuery._dense_start), and gives the rows skipping would: with the range
whole, with a gap (a file deleted), interleaved with another dataset's files, and past
the end."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from arcsec_flask.repo import datafiles
from arcsec_flask.repo.queries import DENSE_FROM

FILES = DENSE_FROM + 300
ENTERED = re.compile(r"\.id >= \d+ ")
OFFSETS = [0, DENSE_FROM - 1, DENSE_FROM, DENSE_FROM + 150, FILES - 1, FILES, FILES + 50]


def bulk(archive, dataset: dict, count: int, first: int = 0) -> None:
    found = archive.conn.execute(
        "SELECT id, uuid FROM datasets WHERE uuid = ?", (dataset["uuid"],)
    ).fetchone()
    files = (
        (
            datafiles.StoredFile(
                f"f{first + i:05d}.fits", f"{dataset['uuid']}/{first + i}", 10, "c"
            ),
            replace(archive.light, date_obs=None),
            {},
        )
        for i in range(count)
    )
    datafiles.create_many(archive.conn, archive.owner_id, dict(found), files)


def pages(archive, filters: dict) -> tuple[list[list[int]], list[list[int]], list[str]]:
    """Each offset's page ids given the total (entered by id where it can) and skipped
    without it, and the page SQL the first way ran."""
    query, conn, owner = datafiles.QUERY, archive.conn, archive.owner_id
    total = query.count(conn, owner, filters)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        entered = [query.page_ids(conn, owner, filters, 101, k, total=total) for k in OFFSETS]
    finally:
        conn.set_trace_callback(None)
    skipped = [query.page_ids(conn, owner, filters, 101, k) for k in OFFSETS]
    return entered, skipped, [sql for sql in seen if " OFFSET " in sql]  # values in place


@pytest.mark.parametrize("filtered", [True, False])
def test_a_dense_range_is_entered_by_id(archive, filtered):
    dataset = archive.dataset("March")
    bulk(archive, dataset, FILES)
    entered, skipped, sql = pages(archive, {"dataset": dataset["uuid"]} if filtered else {})
    assert entered == skipped
    assert [len(p) for p in entered] == [101, 101, 101, 101, 1, 0, 0]
    assert sum(ENTERED.search(s) is not None for s in sql) == len(
        [k for k in OFFSETS if k >= DENSE_FROM]
    )


def test_a_gap_or_another_datasets_files_are_skipped_as_before(archive):
    march, april = archive.dataset("March"), archive.dataset("April")
    for part in range(4):  # interleaved in id order, as two nights uploaded at once
        bulk(archive, march, FILES // 4, first=part * FILES)
        bulk(archive, april, 5, first=part * FILES + FILES // 2)
    # March's ids have April's between them; the owner's, both datasets', are unbroken.
    for filters, by_id in (({"dataset": march["uuid"]}, False), ({}, True)):
        entered, skipped, sql = pages(archive, filters)
        assert entered == skipped and entered[2]
        assert any(ENTERED.search(s) is not None for s in sql) is by_id
    datafiles.delete(archive.conn, archive.owner_id, entered[3][0])  # a gap, in one of the two
    april_only = {"dataset": april["uuid"]}
    assert pages(archive, april_only)[0] == pages(archive, april_only)[1]
    (gone,) = archive.conn.execute("SELECT MIN(id) + 10 FROM datafiles").fetchone()
    datafiles.delete(archive.conn, archive.owner_id, gone)
    for filters in ({"dataset": march["uuid"]}, {}):
        entered, skipped, sql = pages(archive, filters)
        assert entered == skipped and not any(ENTERED.search(s) is not None for s in sql)
