"""Typed settings, read from ``LIVETAPE_*`` environment variables (and CLI flags).

Every user-visible limit lives here so tests can shrink it and the README can list it.
Bad values fail loudly at start-up (pydantic validation), never half-way through a recording.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from livetape.billing.prices import PriceTable


def _listed(value: object) -> object:
    """A list setting from the environment: a JSON list, like the other list settings, or
    comma-separated values; anything else as it came (pydantic then checks its type)."""
    if isinstance(value, str) and value.strip().startswith("["):
        return json.loads(value)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """livetape's configuration. Field names map to ``LIVETAPE_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="LIVETAPE_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite database and files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite in data_dir. postgresql://... works."
    )
    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP listen port.")
    public_url: str | None = Field(
        None, description="Base URL put in play URLs; default: the URL the request came to."
    )
    tls_cert: Path | None = Field(
        None, description="HTTPS: the server's certificate (PEM, with its chain), with "
        "LIVETAPE_TLS_KEY. Unset: plain HTTP (or TLS at a reverse proxy: README, Deploying).",
    )
    tls_key: Path | None = Field(None, description="HTTPS: the certificate's private key (PEM).")
    stun_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="STUN servers handed to publishers (GET "
        "/v1/ice-servers): comma-separated or a JSON list, e.g. stun:stun.example.org:3478.",
    )
    turn_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="TURN servers handed to publishers with short-lived "
        "credentials (needs LIVETAPE_TURN_SECRET): comma-separated or a JSON list, e.g. "
        "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349?transport=tcp.",
    )
    turn_secret: str | None = Field(
        None, min_length=16, description="The TURN server's shared secret (coturn: "
        "use-auth-secret, static-auth-secret): livetape signs TURN credentials with it.",
    )
    turn_ttl_seconds: int = Field(
        3600, ge=60, le=7 * 86400, description="How long minted TURN credentials work.")

    segment_seconds: float = Field(5400.0, gt=0, description="A new file every N seconds.")
    idle_timeout_seconds: float = Field(
        60.0, gt=0, description="Close a recording after N seconds without media."
    )
    fragment_seconds: float = Field(
        1.0, gt=0, le=10, description="fMP4 fragment length: at most this much is lost on a crash."
    )
    keyframe_request_lead_seconds: float = Field(
        0.2, ge=0, description="Ask for a key frame this long before each cut; a key frame "
        "from then on starts the next file (about one key-frame round trip).",
    )
    keyframe_request_interval_seconds: float = Field(
        1.0, gt=0, description="Repeat the keyframe request this often while waiting for one."
    )
    sync_wait_seconds: float = Field(
        3.0, ge=0, description="Wait this long for RTCP sender reports before aligning A/V by "
        "arrival time instead.",
    )
    preroll_seconds: float = Field(
        4.0, ge=0, le=30, description="Each live stream keeps its samples from its latest key "
        "frame on, up to this long, so a recording starts at the key frame before its request "
        "(publishers that ignore key frame requests would otherwise lose up to a GOP). A GOP "
        "longer than this is not kept: the recording waits for the next key frame. 0: off.",
    )
    preroll_max_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="Most bytes of media one live stream keeps for "
        "pre-roll (4 s at 8 Mbit/s); past it, the oldest key frame and its GOP are dropped.",
    )
    max_file_name_length: int = Field(40, gt=0, le=200,  # the column's length
                                      description="Longest accepted file_name.")
    max_tags: int = Field(16, ge=0, description="Most tags per recording.")
    key_grace_seconds: int = Field(
        86400, ge=0, description="How long a rotated-out secret key keeps working."
    )
    token_default_ttl_seconds: int = Field(86400, gt=0, description="User token lifetime.")
    max_token_ttl_seconds: int = Field(
        604800, gt=0, description="Longest user token lifetime: longer ones are neither minted "
        "nor accepted (exp - iat, or exp - now), whoever signed them.",
    )
    pair_room_max_members: int = Field(2, ge=2, description="Members allowed in a pair room.")
    multi_room_max_members: int = Field(50, ge=2, description="Members allowed in a multi room.")
    expiry_sweep_seconds: float = Field(
        60.0, gt=0, description="How often files past their expire_time are deleted."
    )
    max_publications: int = Field(
        16, ge=1, description="Published streams this server process accepts at once; past "
        "about one core of media, UDP drops would disconnect every publisher, not just the new "
        "one (bench/record_capacity.py: ~20 streams of 720p30 at 2 Mbit/s per core).",
    )
    max_publications_per_app: int | None = Field(
        None, ge=1, description="Published streams one app may have at once on this server "
        "(unset: only max_publications applies).",
    )
    max_publications_per_user: int = Field(
        2, ge=1, description="Published streams one user of an app may have at once, in all "
        "rooms (2: a camera and a screen).",
    )
    connect_timeout_seconds: float = Field(
        15.0, gt=0, description="A WHIP session whose ICE and DTLS are not up this long after "
        "its answer is closed (its slot freed).",
    )
    disconnect_grace_seconds: float = Field(
        10.0, gt=0, description="A connected WHIP session that receives nothing (no media, no "
        "sender report) this long is closed; its recording ends (publisher_left).",
    )
    # processing jobs (transcode, snapshots, watermark)
    job_workers: int = Field(
        1, ge=0, description="Worker processes the server starts beside itself for processing "
        "jobs (0: none; run `livetape worker` elsewhere against the same database and storage).",
    )
    job_poll_seconds: float = Field(0.5, gt=0, description="How often an idle worker looks "
                                    "for a queued job.")
    job_lease_seconds: float = Field(
        30.0, gt=0, description="A running job's lease; its worker renews it every third of "
        "this. A job whose worker died is re-run once its lease ran out.",
    )
    job_max_attempts: int = Field(3, ge=1, description="Runs of a job before it is failed.")
    transcode_preset: str = Field("veryfast", description="libx264 preset for renditions.")
    transcode_threads: int = Field(0, ge=0, description="Encoder threads per job (0: auto).")
    hls_segment_seconds: float = Field(4.0, gt=0, le=30, description="HLS segment length.")
    record_transcode_definitions: list[int] = Field(
        [10, 20, 30, 210, 220, 230], description="Renditions made for recordings started "
        "with transcode=true (JSON list in the environment).",
    )
    record_snapshot_interval_seconds: float = Field(
        10.0, gt=0, description="Snapshot spacing for recordings started with screenshot=true."
    )
    max_snapshots: int = Field(100, ge=1, description="Most snapshots one request may ask for.")
    auto_cover: bool = Field(True, description="Take a cover image of every file with video.")
    watermark_max_bytes: int = Field(1_048_576, gt=0, description="Largest watermark PNG.")
    # request bodies (past a limit: 413, code 1006, without reading the rest)
    max_body_bytes: int = Field(
        65_536, gt=0, description="Largest request body of the JSON and form calls "
        "(/v1/record, console sign-in...); the watermark PNG has its own limit.",
    )
    max_sdp_bytes: int = Field(
        65_536, gt=0, description="Largest WHIP offer (a browser's SDP is 4-10 KB).",
    )
    # signed play URLs
    play_url_ttl_seconds: int = Field(
        86400, gt=0, description="Lifetime of the signed play URLs the API hands out."
    )
    media_lookup_seconds: float = Field(
        2.0, ge=0, description="How long the file server remembers a file's status and its "
        "app's signing key (changes made on other servers show after this).",
    )
    billing_enforce: bool = Field(
        False, description="Refuse to start recordings (code 2) for apps whose balance is at "
        "or below zero. Off by default: a self-hosted install meters without charging.",
    )
    billing_playback_grace_seconds: float = Field(
        86400.0, ge=0, description="With billing_enforce, how long an app's files still play "
        "after its balance fell to zero or below; then play URLs answer 403 (code 1005). "
        "Nothing recorded is ever deleted for non-payment.",
    )
    billing_run_seconds: float = Field(
        600.0, gt=0, description="How often the server bills finished days (and notes each "
        "app's stored total for the day).",
    )
    billing_delay_seconds: float = Field(
        3600.0, ge=0, description="A UTC day is billed this long after it ended, once late "
        "traffic counts have landed.",
    )
    prices: PriceTable = Field(
        default_factory=lambda: PriceTable.model_validate({}),
        description="The price table in CNY (JSON; fields left out keep their defaults): "
        "storage_cny_per_gb_day, traffic_tiers [{up_to_gb, cny_per_gb}], "
        "transcode_cny_per_minute {sd, hd, fhd, 2k, 4k}, "
        "package_storage_cny_per_gb_month, package_traffic_cny_per_gb.",
    )
    operator_key: str | None = Field(
        None, min_length=16, description="Bearer key of the operator API (/v1/operator: "
        "top-ups); unset, that API answers 1001.",
    )
    usage_flush_seconds: float = Field(
        5.0, gt=0, description="How often counted playback traffic is written to the usage "
        "ledger (a crash loses at most this much of the count).",
    )
    play_rlimit_max_tracked: int = Field(
        100_000, gt=0, description="Signed URLs whose viewer IPs are remembered (for rlimit)."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses or networks (CIDR) of reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated); empty: "
        "none, the client is the connection's peer (what rlimit counts).",
    )
    console_session_seconds: int = Field(
        43200, gt=0, description="Lifetime of a web console sign-in (the session cookie)."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        """Both or neither, and a pair that loads: checked before the server listens."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("LIVETAPE_TLS_CERT and LIVETAPE_TLS_KEY go together: set both "
                             "for HTTPS, or neither")
        if self.tls_cert is not None and self.tls_key is not None:
            for name, path in (("LIVETAPE_TLS_CERT", self.tls_cert),
                               ("LIVETAPE_TLS_KEY", self.tls_key)):
                if not path.is_file():
                    raise ValueError(f"{name}: no file {str(path)!r}")
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                    self.tls_cert, self.tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"LIVETAPE_TLS_CERT / LIVETAPE_TLS_KEY do not load as a PEM "
                                 f"certificate and its key: {exc}") from exc
        return self

    @model_validator(mode="after")
    def _turn_secret(self) -> Settings:
        if self.turn_urls and not self.turn_secret:
            raise ValueError("LIVETAPE_TURN_URLS needs LIVETAPE_TURN_SECRET (the TURN server's "
                             "shared secret) to mint credentials")
        return self

    @field_validator("stun_urls", "turn_urls", mode="before")
    @classmethod
    def _ice_urls(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            for url in value:
                if not str(url).startswith(("stun:", "stuns:", "turn:", "turns:")):
                    raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
        return value

    @field_validator("record_transcode_definitions")
    @classmethod
    def _known_definitions(cls, value: list[int]) -> list[int]:
        known = {10, 20, 30, 210, 220, 230}
        if not value or set(value) - known:
            raise ValueError(f"definitions must be some of {sorted(known)}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        value = _listed(value)
        if isinstance(value, list):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError as exc:
                    raise ValueError(f"{entry!r} is not an IP address or network") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("LIVETAPE_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @property
    def recordings_dir(self) -> Path:
        """Where recordings are written while they run (fragmented MP4 parts)."""
        return self.data_dir / "recordings"

    @property
    def storage_dir(self) -> Path:
        """Where the local storage back end keeps library objects."""
        return self.data_dir / "storage"

    def resolved_database_url(self) -> str:
        """The database URL as given, or the embedded SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'livetape.db').resolve()}"
