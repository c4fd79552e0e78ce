"""Debian's nginx run as this user from a generated configuration: a prefix folder holding
its config, pid, logs and temporary files. The benchmarks' reference file server and the
reverse-proxy test both start it this way."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def write_config(prefix: Path, http: str) -> Path:
    """Write ``prefix/nginx.conf``: one worker, everything under ``prefix``, and ``http`` (the
    directives and server blocks) inside its ``http`` block; returns its path."""
    for kind in TEMP_KINDS:
        (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    temp = "\n".join(f"    {kind}_temp_path {prefix}/tmp/{kind};" for kind in TEMP_KINDS)
    # as root the workers would switch to 'nobody', who cannot enter the 0700 work dir
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
{temp}
{http}
}}
""")
    return conf


def start(prefix: Path, conf: Path) -> subprocess.Popen[bytes]:
    """nginx in the foreground (its master is the returned process); its own output goes to
    ``prefix/stderr.log``, its error log to ``prefix/error.log``."""
    log = (prefix / "stderr.log").open("ab")
    return subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"),
                             "-c", str(conf), "-g", "daemon off;"],
                            stdout=log, stderr=subprocess.STDOUT)
