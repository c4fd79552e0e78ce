"""The serving benchmark's "livetape -> nginx secure_link" row: a livetape process with
``LIVETAPE_NGINX_SECURE_LINK_SECRET`` behind its own nginx.

That nginx (one worker, as the reference) runs the deploy example's two locations without
TLS: ``/`` proxied to livetape over kept-alive upstream connections, and ``/signed/``, whose
``secure_link`` checks the links livetape redirects to and sends the file from livetape's
storage folder. The load client follows the 302 like a player (:mod:`redirect_client`), so
after the first request of a connection only nginx works. CPU: livetape's process and this
nginx's (master + worker) apart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from library_file import serve_clip
from livetape_harness.server import LiveServer
from nginx_ref import NginxRef
from procfs import proc_cpu_seconds
from rangeload import Target

LINK_ROW = "lt->nginx"
SECRET = "bench-serve-secure-link-secret"
PREFIX = "/signed/"


@dataclass
class SecureLinkNginx(NginxRef):
    """nginx before a livetape in secure_link mode (``livetape_port``)."""

    livetape_port: int = 0

    def config(self) -> str:
        return f"""    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    upstream livetape_linked {{ server 127.0.0.1:{self.livetape_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{self.port};
        proxy_buffering off;
        location / {{
            proxy_pass http://livetape_linked;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header Connection "";
        }}
        location {PREFIX} {{
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri {SECRET}";
            if ($secure_link = "") {{ return 403; }}
            if ($secure_link = "0") {{ return 403; }}
            alias {self.storage}/;
            types {{ video/mp4 mp4; }}
            default_type application/octet-stream;
        }}
    }}"""


@dataclass
class SecureLinkRow:
    """The livetape and its nginx; :meth:`start` returns the row's :class:`Target`."""

    work: Path
    server: LiveServer = field(init=False)
    nginx: SecureLinkNginx = field(init=False)

    def __post_init__(self) -> None:
        self.server = LiveServer(self.work / "livetape", env={
            "LIVETAPE_NGINX_SECURE_LINK_SECRET": SECRET,
            "LIVETAPE_NGINX_SECURE_LINK_PREFIX": PREFIX,
            "LIVETAPE_TRUSTED_PROXIES": "127.0.0.1"})
        self.nginx = SecureLinkNginx(self.work / "nginx",
                                     self.server.data_dir.resolve() / "storage",
                                     livetape_port=self.server.port)

    async def start(self, clip: Path) -> Target:
        play = await serve_clip(self.server, clip)
        self.nginx.prefix.mkdir(parents=True)
        await asyncio.to_thread(self.nginx.start)
        assert self.server.process is not None
        lt_pid = self.server.process.pid
        return Target(LINK_ROW, self.nginx.url(play), {
            "livetape": lambda: proc_cpu_seconds(lt_pid), "nginx": self.nginx.cpu_seconds},
            follow=True)

    async def stop(self) -> None:
        await asyncio.to_thread(self.nginx.stop)
        await asyncio.to_thread(self.server.stop)
