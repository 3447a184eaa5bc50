"""Called by `make run`: create a first account when there is none (with the `local`
organisation it owns, docs/API.md §3) and say how to use it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", default="observer")
    args = parser.parse_args()
    out = subprocess.run(
        [BIN / "arcsec-flask", "bootstrap", "--username", args.username, "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not out:
        # bootstrap has also made sure the first account owns `local`.
        print("Accounts exist already. New keys: .venv/bin/arcsec-flask users rotate-keys NAME")
        print(f"The 'local' portal: {args.url}local/datasets/ (arcsecond ... -p local)")
        return
    keys = json.loads(out)
    user, api_key, upload_key = keys["username"], keys["api_key"], keys["upload_key"]
    print(f"""
First account created: {user}
  api key (full access): {api_key}
  upload key (uploads):  {upload_key}
These keys are shown once: keep them.

Point the arcsecond client at this server:
  arcsecond api add local {args.url}
  arcsecond api use local
  arcsecond login --username {user} --type upload --key {upload_key}

{user} owns the organisation 'local' (Arcsecond.local's portal): upload into it with
  arcsecond upload FOLDER -d NAME -t TELESCOPE -p local
(TELESCOPE: the uuid of a telescope of the portal, made at {args.url}local/telescopes/)

Or call the API directly:
  curl -H 'X-Arcsecond-API-Authorization: Key {api_key}' {args.url}profiles/{user}/
  curl -H 'X-Arcsecond-API-Authorization: Key {api_key}' {args.url}local/datasets/
""")


if __name__ == "__main__":
    main()
