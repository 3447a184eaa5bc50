"""Finding the file system of a watched folder from mountinfo (services/mounts.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from arcsec_flask.services.mounts import file_system_of, network_file_system

MOUNTINFO = "\n".join(
    [
        "22 27 0:21 / /proc rw,relatime - proc proc rw",
        "27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
        "30 27 0:40 / /srv/frames rw,relatime shared:5 - nfs4 nas:/frames rw,vers=4.2",
        "31 30 0:41 / /srv/frames/local rw - ext4 /dev/sdb1 rw",
        r"32 27 0:42 / /mnt/camera\040pc rw - cifs //camera/share rw",
        "33 27 0:43 / /srv/framesX rw - xfs /dev/sdc1 rw",
        "34 27 0:44 / /srv/frames rw - tmpfs tmpfs rw",  # mounted over the NFS one: wins
        "not a mountinfo line",
    ]
)


@pytest.mark.parametrize(
    ("folder", "kind"),
    [
        ("/", "ext4"),
        ("/home/obs/frames", "ext4"),
        ("/srv/frames", "tmpfs"),
        ("/srv/frames/incoming", "tmpfs"),
        ("/srv/frames/local/x", "ext4"),
        ("/srv/framesX/incoming", "xfs"),  # a prefix of the name is not a parent folder
        ("/mnt/camera pc/night", "cifs"),  # octal escapes in mount points
    ],
)
def test_the_deepest_mount_holding_the_folder_names_it(folder, kind):
    assert file_system_of(folder, MOUNTINFO) == kind


def test_nfs_without_the_mount_over_it():
    lines = [x for x in MOUNTINFO.splitlines() if "tmpfs" not in x]
    assert file_system_of("/srv/frames/incoming", "\n".join(lines)) == "nfs4"
    assert file_system_of("/srv/frames/incoming", "") is None


def test_a_local_folder_is_not_a_network_one(tmp_path):
    if shutil.which("findmnt") is None:
        pytest.skip("findmnt (util-linux) is missing")
    found = subprocess.run(
        ["findmnt", "-T", str(tmp_path), "-n", "-o", "FSTYPE"], capture_output=True, text=True
    )
    assert network_file_system(tmp_path) is None
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert file_system_of(tmp_path.resolve(), mountinfo) == found.stdout.strip()
