"""gunicorn settings for arcsec_flask in production: `gunicorn -c deploy/gunicorn.conf.py`.

Every value below can be changed without editing this file, by an environment variable
(in systemd: `Environment=` or the unit's `EnvironmentFile=/etc/arcsec-flask/env`):

    GUNICORN_BIND              127.0.0.1:8000 (loopback: nginx in front; several allowed,
                               comma-separated, e.g. "127.0.0.1:8000,unix:/run/arcsec.sock")
    GUNICORN_WORKERS           the usable CPUs, at least 2, at most 8
    GUNICORN_THREADS           8
    GUNICORN_TIMEOUT           120
    GUNICORN_GRACEFUL_TIMEOUT  60
    GUNICORN_KEEPALIVE         0
    GUNICORN_CONTROL_SOCKET    $RUNTIME_DIRECTORY/gunicorn.ctl under systemd, none otherwise
    GUNICORN_ACCESS_LOG        "-" (stdout: the journal); "" for none
    GUNICORN_LOG_LEVEL         info

Any other gunicorn setting: GUNICORN_CMD_ARGS="--name value", which gunicorn reads itself
and applies over this file (command-line options come last and win over both).
"""

import os
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GUNICORN_{name}", default)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects taskset/cpusets, unlike cpu_count
    except AttributeError:
        return os.cpu_count() or 1


# wsgi.py sits at the top of the install folder (/opt/arcsec-flask), one level up from here:
# gunicorn then finds `wsgi:app` whatever the current directory.
chdir = _env("CHDIR", str(Path(__file__).resolve().parent.parent))
wsgi_app = "wsgi:app"
proc_name = "arcsec-flask"

bind = [address.strip() for address in _env("BIND", "127.0.0.1:8000").split(",")]

# gthread: each worker process runs `threads` requests at once. A slow upload or download
# holds a thread, not a process; the CPU-bound part of an upload (multipart parsing,
# sha256, header reading) holds the worker's GIL, so the number of processes is what
# spreads work over the CPUs: one per CPU. The 2*CPU+1 rule is for sync workers, which
# need extra processes to cover time spent blocked on I/O; the threads cover that here.
# Each process imports astropy and numpy (about 100 MB resident): 8 at most.
worker_class = "gthread"
workers = int(_env("WORKERS", str(min(max(_cpus(), 2), 8))))
threads = int(_env("THREADS", "8"))

# With gthread, `timeout` is only the worker's heartbeat: the worker's main loop notifies
# the master at least once a second, whatever its threads are doing, so an upload of many
# GB in one thread never trips it. A worker whose loop stops answering for this long
# (deadlock, stuck in C code with the GIL held) is killed and replaced: a real limit,
# unlike `--timeout 0` which never replaces a hung worker.
timeout = int(_env("TIMEOUT", "120"))
# On stop or restart, requests in flight get this long to finish (a multi-GB upload may
# not: the client sees the connection close and retries; nothing half-stored remains).
# systemd's TimeoutStopSec in deploy/arcsec-flask.service is set above it.
graceful_timeout = int(_env("GRACEFUL_TIMEOUT", "60"))
# A worker accepts no more connections than it has threads: with gunicorn's default (1000)
# a worker whose threads are all busy (big uploads handed on by nginx, slow requests)
# still accepts, and queues the request behind them although other workers have threads
# free (tests/test_slow_uploads.py found it). Capped, it leaves the connection in the
# listen queue for a worker that can take it. So no room is left for idle keep-alive
# connections (gunicorn keeps one alive only beyond `threads`): keepalive 0, which costs
# nothing behind nginx, which opens a new connection per request (deploy/nginx.conf.example)
# and sends its headers at once. (gunicorn 27's gthread also gives a connection that sent
# nothing for 5 s `keepalive` more seconds before closing it: none, here.)
worker_connections = threads
keepalive = int(_env("KEEPALIVE", "0"))
# limit_request_line, limit_request_fields, limit_request_field_size: gunicorn's defaults
# (4094 bytes, 100 fields, 8190 bytes); uploads are bodies, unaffected by them.

# The heartbeat file gets an fchmod per second: keep it in memory when /dev/shm is usable
# (a disk-backed /tmp can stall the write, and the worker with it).
worker_tmp_dir = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

# The control socket (`gunicornc`: worker status, graceful reload) goes in systemd's
# RuntimeDirectory (/run/arcsec-flask, made for the unit's user and writable despite
# ProtectSystem=strict). gunicorn's own default, $XDG_RUNTIME_DIR or ~/.gunicorn, does not
# exist for a system user; outside systemd there is none unless asked for, so that two
# servers on one machine never fight over one socket. Not in the data folder: a socket is
# no data to back up.
_runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
_control = _env("CONTROL_SOCKET", f"{_runtime}/gunicorn.ctl" if _runtime else "")
if _control:
    control_socket = _control
else:
    control_socket_disable = True

# Logs go to stdout/stderr, which systemd hands to the journal.
accesslog = _env("ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = _env("LOG_LEVEL", "info")
# The combined format, then the request time in seconds (%(L)s, microsecond precision).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss'
