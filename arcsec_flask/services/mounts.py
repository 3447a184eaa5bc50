"""Which file system a folder is on, from /proc/self/mountinfo: inotify reports only what
this machine's kernel writes, so a folder mounted from another machine needs polling."""

from __future__ import annotations

import os
import re
from pathlib import Path

# Shares whose files other machines write: the local kernel sends no inotify events.
NETWORK_FILE_SYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "afs", "glusterfs", "lustre"}
    | {"fuse.sshfs", "fuse.glusterfs", "fuse.rclone", "fuse.s3fs", "davfs", "fuse.davfs"}
)
_ESCAPE = re.compile(r"\\([0-7]{3})")


def file_system_of(folder: str | os.PathLike[str], mountinfo: str) -> str | None:
    """The type of the file system holding `folder` (a resolved, absolute path), given the
    text of a mountinfo file; None if no mount holds it."""
    target = str(folder)
    best: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        fields, sep, rest = line.partition(" - ")
        parts = fields.split()
        if not sep or len(parts) < 5 or not rest:
            continue
        point = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), parts[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):  # the last, deepest mount
            best = (len(point), rest.split()[0])
    return best[1] if best else None


def network_file_system(folder: Path) -> str | None:
    """The type of the network file system `folder` is on, or None (local, or unknown)."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:  # not Linux
        return None
    kind = file_system_of(folder.resolve(), mountinfo)
    return kind if kind in NETWORK_FILE_SYSTEMS else None
