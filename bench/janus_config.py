"""Locating Debian's Janus and rendering a private config folder for the benchmark reference.

The generated config loads only the HTTP transport and the VideoRoom plugin and keeps ICE on
one host address; nothing under /etc is read or changed.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

HTTP_TRANSPORT_LIB = "libjanus_http.so"
VIDEOROOM_LIB = "libjanus_videoroom.so"
# Janus's module folders under its lib dir, in the order janus.jcfg names them.
MODULE_KINDS = ("plugins", "transports", "events", "loggers")


@dataclass(frozen=True)
class JanusInstall:
    """Where the Janus binary and its module folders are."""

    binary: Path
    lib_dir: Path  # holds plugins/, transports/, events/, loggers/

    def module_dir(self, kind: str) -> Path:
        """Folder of one kind of shared objects (one of ``MODULE_KINDS``)."""
        if kind not in MODULE_KINDS:
            raise ValueError(f"unknown Janus module kind {kind!r}")
        return self.lib_dir / kind


def find_janus(binary: str | os.PathLike[str] | None = None) -> JanusInstall:
    """Locate the janus binary and its lib folder (Debian: /usr/lib/<triplet>/janus)."""
    exe = Path(binary) if binary else Path(shutil.which("janus") or "/usr/bin/janus")
    if not exe.exists():
        raise FileNotFoundError("janus not found: apt-get install -y janus")
    prefix = exe.resolve().parent.parent  # /usr/bin/janus -> /usr
    # Debian uses the multiarch folder; a source build under a prefix uses lib/janus.
    patterns = [
        str(prefix / "lib" / "*" / "janus" / "plugins" / VIDEOROOM_LIB),
        str(prefix / "lib" / "janus" / "plugins" / VIDEOROOM_LIB),
        str(prefix / "lib64" / "janus" / "plugins" / VIDEOROOM_LIB),
    ]
    for pattern in patterns:
        hits = sorted(glob.glob(pattern))
        if hits:
            return JanusInstall(binary=exe, lib_dir=Path(hits[0]).parent.parent)
    raise FileNotFoundError(f"no {VIDEOROOM_LIB} found under {prefix}/lib*")


def host_address() -> str:
    """The machine's first non-loopback IPv4 address.

    aiortc (through aioice) never gathers 127.0.0.1 candidates, so Janus must offer ICE
    candidates on the same interface address that aiortc uses; aioice's own helper is the one
    that decides what aiortc gathers, so ask it.
    """
    from aioice.ice import get_host_addresses

    addresses = get_host_addresses(use_ipv4=True, use_ipv6=False)
    if not addresses:
        raise RuntimeError("no non-loopback IPv4 address: aiortc cannot do ICE here")
    return str(addresses[0])


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 trick; racy but fine here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _disable_list(folder: Path, keep: str | None = None) -> str:
    """Comma-separated names of every shared object in ``folder`` except ``keep``."""
    if not folder.is_dir():
        return ""
    return ",".join(sorted(p.name for p in folder.glob("*.so") if p.name != keep))


def render_config(
    install: JanusInstall,
    config_dir: Path,
    *,
    ice_address: str,
    http_port: int,
    debug_level: int = 4,
    rtp_port_range: str = "20000-40000",
) -> dict[str, str]:
    """Janus config files (file name -> text) for a closed-network VideoRoom reference.

    Only the HTTP transport and the VideoRoom plugin load; admin API, event handlers, external
    loggers, STUN/TURN and 1:1 NAT are all off; ICE gathers on ``ice_address`` only.
    """
    folders = "".join(f'\t{kind}_folder = "{install.module_dir(kind)}"\n' for kind in MODULE_KINDS)
    disable_plugins = _disable_list(install.module_dir("plugins"), VIDEOROOM_LIB)
    disable_transports = _disable_list(install.module_dir("transports"), HTTP_TRANSPORT_LIB)
    disable_loggers = _disable_list(install.module_dir("loggers"))  # all of them
    janus_jcfg = f"""\
general: {{
\tconfigs_folder = "{config_dir}"
{folders}\tdebug_level = {debug_level}
\tdebug_timestamps = true
\tdebug_colors = false
\t# Random admin secret: the admin API is off anyway, but never run with the well-known default.
\tadmin_secret = "{secrets.token_hex(16)}"
\tserver_name = "livetape-janus-ref"
\tsession_timeout = 60
\t# Nothing is protected: recordings go to a temp dir chosen by the harness.
\tprotected_folders = []
}}
certificates: {{
\t# No cert configured: Janus generates a self-signed DTLS certificate at startup.
}}
media: {{
\tipv6 = false
\trtp_port_range = "{rtp_port_range}"
}}
nat: {{
\t# Closed network: no STUN/TURN, no 1:1 NAT, host candidates on one address only.
\tnice_debug = false
\tfull_trickle = false
\tignore_mdns = true
\tice_enforce_list = "{ice_address}"
}}
plugins: {{
\tdisable = "{disable_plugins}"
}}
transports: {{
\tdisable = "{disable_transports}"
}}
loggers: {{
\tdisable = "{disable_loggers}"
}}
events: {{
\tbroadcast = false
}}
"""
    http_jcfg = f"""\
general: {{
\tjson = "compact"
\tbase_path = "/janus"
\thttp = true
\tport = {http_port}
\tip = "127.0.0.1"
\thttps = false
}}
admin: {{
\tadmin_http = false
\tadmin_https = false
}}
cors: {{
}}
"""
    # Rooms are created through the API; the file only has to exist (and carry no demo rooms).
    videoroom_jcfg = """\
general: {
\tevents = false
}
"""
    return {
        "janus.jcfg": janus_jcfg,
        "janus.transport.http.jcfg": http_jcfg,
        "janus.plugin.videoroom.jcfg": videoroom_jcfg,
    }
