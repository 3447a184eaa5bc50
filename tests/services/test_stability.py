"""The watcher's rules for when a file is complete (services/stability.py), on a clock of
our own: no sleeping, no file system."""

from __future__ import annotations

import tracemalloc

import pytest

from arcsec_flask.services.stability import StabilityTracker, is_temporary


@pytest.mark.parametrize(
    ("relative", "temporary"),
    [
        ("light_0001.fits", False),
        ("2024-03-01/M31/light_0001.fits", False),
        ("light_0001.fits.tmp", True),
        ("light_0001.FITS.TMP", True),
        ("light_0001.fits.part", True),
        ("light_0001.fits~", True),
        (".light_0001.fits", True),  # rsync's name while it writes
        (".sync/light_0001.fits", True),  # inside a dot-folder
        ("night/.incoming/light_0001.fits", True),
        ("tmp/light_0001.fits", False),  # a folder named tmp is a folder
        ("light.tmp.fits", False),
        ("partial.fits", False),
    ],
)
def test_temporary_names(relative, temporary):
    assert is_temporary(relative) is temporary


def test_a_file_is_ready_once_unchanged_for_the_stable_time():
    tracker = StabilityTracker(5)
    assert tracker.observe("a.fits", (100, 1), now=0)
    assert tracker.due(4.9) == []
    assert tracker.next_due() == 5
    assert tracker.due(5) == ["a.fits"]
    assert tracker.settled("a.fits", (100, 1), now=5)
    assert "a.fits" not in tracker and len(tracker) == 0


def test_a_file_still_growing_restarts_its_clock():
    tracker = StabilityTracker(5)
    tracker.observe("a.fits", (100, 1), now=0)
    tracker.observe("a.fits", (200, 2), now=3)  # an event: more bytes
    assert tracker.due(5) == []
    assert tracker.due(8) == ["a.fits"]
    # Grown again without an event being seen: found at the look, the clock restarts.
    assert not tracker.settled("a.fits", (300, 3), now=8)
    assert tracker.due(12.9) == []
    assert tracker.settled("a.fits", (300, 3), now=13)


def test_same_size_but_a_new_mtime_is_a_change():
    tracker = StabilityTracker(1)
    tracker.observe("a.fits", (100, 1), now=0)
    assert not tracker.settled("a.fits", (100, 2), now=1)
    assert tracker.settled("a.fits", (100, 2), now=2)


def test_seeing_an_unchanged_file_again_does_not_restart_its_clock():
    tracker = StabilityTracker(5)
    tracker.observe("a.fits", (100, 1), now=0)
    tracker.observe("a.fits", (100, 1), now=4)
    assert tracker.settled("a.fits", (100, 1), now=5)


def test_not_ready_before_its_time_even_if_asked():
    tracker = StabilityTracker(5)
    tracker.observe("a.fits", (100, 1), now=0)
    assert not tracker.settled("a.fits", (100, 1), now=4)
    assert "a.fits" in tracker
    assert not tracker.settled("never-seen.fits", (1, 1), now=100)


def test_a_file_dealt_with_is_ignored_until_it_changes():
    tracker = StabilityTracker(1)
    tracker.observe("a.fits", (100, 1), now=0)
    assert tracker.settled("a.fits", (100, 1), now=1)
    tracker.done("a.fits", (100, 1))
    assert not tracker.observe("a.fits", (100, 1), now=2)  # e.g. refused: not again
    assert len(tracker) == 0
    assert tracker.observe("a.fits", (150, 3), now=3)  # rewritten: taken again
    assert tracker.settled("a.fits", (150, 3), now=4)


def test_a_vanished_file_is_forgotten():
    tracker = StabilityTracker(1)
    tracker.observe("a.fits", (100, 1), now=0)
    assert tracker.forget("a.fits")
    assert not tracker.forget("a.fits")
    assert tracker.due(10) == [] and tracker.next_due() is None


def test_forgetting_a_done_file_lets_the_same_signature_in_again():
    tracker = StabilityTracker(1)
    tracker.done("a.fits", (100, 1))
    tracker.forget("a.fits")  # deleted, then a file of the same size and mtime put back
    assert tracker.observe("a.fits", (100, 1), now=0)


def test_retry_later_waits_a_full_stable_time_again():
    tracker = StabilityTracker(2)
    tracker.observe("a.fits", (100, 1), now=0)
    assert tracker.settled("a.fits", (100, 1), now=2)
    tracker.retry_later("a.fits", (100, 1), now=2)
    assert tracker.due(3) == []
    assert tracker.settled("a.fits", (100, 1), now=4)


def test_zero_seconds_takes_a_file_at_its_first_look():
    tracker = StabilityTracker(0)
    tracker.observe("a.fits", (100, 1), now=7)
    assert tracker.due(7) == ["a.fits"]
    assert tracker.settled("a.fits", (100, 1), now=7)


def test_the_tracker_gives_back_the_memory_of_a_catch_up():
    """A dict keeps the table of its largest size after its entries go: 20,000 files
    pending at once (a catch-up), then all taken, must not leave it behind."""
    paths = [f"night/frame_{i:06d}.fits" for i in range(20_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracker = StabilityTracker(0)
        for path in paths:
            tracker.observe(path, (100, 1), now=0)
        grown = tracemalloc.get_traced_memory()[0] - before
        for path in tracker.due(0):
            assert tracker.settled(path, (100, 1), now=0)
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown > 1_000_000  # the table and its entries, while pending
    assert left < 20_000, left
