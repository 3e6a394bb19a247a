"""When the inbox watcher takes a file: the rules of edgexray.inbox.readiness, event by event.

settle=0 makes every file "settled" at once, so a file still refused is refused by the writer
rule alone, however long it waits; settle=3600 makes a file complete only by its close."""

from __future__ import annotations

from pathlib import Path

from edgexray.inbox.readiness import ReadinessTracker

SCAN = Path("/inbox/scan.png")


def test_with_inotify_a_file_its_creator_opened_waits_for_the_close() -> None:
    tracker = ReadinessTracker(settle=0, tells_writers=True)
    tracker.created(SCAN)
    tracker.opened(SCAN)  # the creator's open: created and still empty
    assert not tracker.is_complete(SCAN, 0, 1)
    tracker.written(SCAN)
    assert not tracker.is_complete(SCAN, 10, 2)
    tracker.read(SCAN)  # a reader closing it does not end the writer's hold
    assert not tracker.is_complete(SCAN, 10, 2)
    tracker.closed(SCAN)
    assert tracker.is_complete(SCAN, 20, 3)
    tracker.written(SCAN)  # opened again and written: waits for that close too
    assert not tracker.is_complete(SCAN, 30, 4)


def test_with_inotify_a_file_no_writer_holds_goes_by_the_settle_time() -> None:
    tracker = ReadinessTracker(settle=0, tells_writers=True)
    tracker.created(SCAN)  # moved in from another file system's folder, or hard-linked
    assert tracker.is_complete(SCAN, 10, 1)
    moved = ReadinessTracker(settle=0, tells_writers=True)
    moved.created(SCAN)
    moved.opened(SCAN)  # a reader (a thumbnailer) opens it first...
    moved.read(SCAN)  # ...and closes it: no writer
    assert moved.is_complete(SCAN, 10, 1)
    waiting = ReadinessTracker(settle=3600, tells_writers=True)
    waiting.created(SCAN)
    assert not waiting.is_complete(SCAN, 10, 1)  # not settled yet
    waiting.closed(SCAN)  # renamed into place
    assert waiting.is_complete(SCAN, 10, 1)


def test_lost_events_let_no_file_wait_for_a_close_forever() -> None:
    tracker = ReadinessTracker(settle=0, tells_writers=True)
    tracker.written(SCAN)
    assert not tracker.is_complete(SCAN, 10, 1)
    tracker.lost()  # its close may have been among the lost events
    assert tracker.is_complete(SCAN, 10, 1)


def test_without_inotify_only_the_settle_time_counts() -> None:
    tracker = ReadinessTracker(settle=0, tells_writers=False)
    tracker.written(SCAN)  # polling: the size changed, nothing is known of a writer
    assert tracker.is_complete(SCAN, 10, 1)
    slow = ReadinessTracker(settle=3600, tells_writers=False)
    slow.written(SCAN)
    assert not slow.is_complete(SCAN, 10, 1)
