"""``LIVETAPE_STORAGE_URL``: where library objects live, read into a :class:`FolderLocation`
or an :class:`S3Location`.

- ``file://PATH`` (absolute, or ``file:relative``): a local folder;
- ``s3://BUCKET[/PREFIX]?endpoint=URL&region=R[&addressing=path|virtual]``: a bucket of an
  S3-compatible store (AWS, MinIO, SeaweedFS...), every key under ``PREFIX/`` when given.
  Without ``endpoint`` the AWS endpoint of the region is used; ``addressing`` defaults to
  ``path`` with an endpoint (what self-hosted stores answer) and ``virtual`` without one.

Credentials never go in the URL: they come from the standard AWS variables or config chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# S3's bucket naming rules: 3-63 lower-case letters, digits, dots and hyphens
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PREFIX_PART = re.compile(r"[A-Za-z0-9._!*'()-]+")
REGION = re.compile(r"[a-z0-9-]{1,40}")
OPTIONS = {"endpoint", "region", "addressing"}


@dataclass(frozen=True)
class FolderLocation:
    """Objects as files under a folder."""

    root: Path


@dataclass(frozen=True)
class S3Location:
    """Objects in an S3 bucket, under ``prefix`` ("" or ending in "/")."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str
    addressing: str  # "path" or "virtual"

    def describe(self) -> str:
        """The bucket as messages name it (no credentials: the URL holds none)."""
        where = self.endpoint or f"AWS {self.region}"
        return f"s3://{self.bucket}/{self.prefix} at {where}"


StorageLocation = FolderLocation | S3Location


def parse_storage_url(url: str) -> StorageLocation:
    """The location ``url`` names; ValueError with what is wrong otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme == "file":
        path = (parts.netloc + parts.path) if parts.netloc not in ("", "localhost") \
            else parts.path
        if not path:
            raise ValueError("file:// needs a folder, e.g. file:///var/lib/livetape/storage")
        return FolderLocation(Path(path))
    if parts.scheme != "s3":
        raise ValueError(f"not a file:// or s3:// URL: {url[:100]!r}")
    if not BUCKET.fullmatch(parts.netloc):
        raise ValueError(f"bad bucket name {parts.netloc[:70]!r} (3-63 lower-case letters, "
                         "digits, dots, hyphens)")
    names = [p for p in parts.path.split("/") if p]
    if any(not PREFIX_PART.fullmatch(p) or p in (".", "..") for p in names):
        raise ValueError(f"bad key prefix {parts.path[:100]!r} (letters, digits, ._-!*'())")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = set(query) - OPTIONS
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} (known: "
                         "endpoint, region, addressing)")
    if any(len(values) > 1 for values in query.values()):
        raise ValueError("each option may be given once")
    options = {name: values[0] for name, values in query.items()}
    endpoint = options.get("endpoint") or None
    if endpoint is not None:
        target = urlsplit(endpoint)
        if target.scheme not in ("http", "https") or not target.netloc:
            raise ValueError(f"endpoint must be an http(s):// URL, not {endpoint[:100]!r}")
    region = options.get("region") or "us-east-1"
    if not REGION.fullmatch(region):
        raise ValueError(f"bad region {region[:50]!r}")
    addressing = options.get("addressing") or ("path" if endpoint else "virtual")
    if addressing not in ("path", "virtual"):
        raise ValueError("addressing must be 'path' or 'virtual'")
    prefix = "/".join(names) + "/" if names else ""
    return S3Location(parts.netloc, prefix, endpoint, region, addressing)
