"""TC3-HMAC-SHA256: the signature of the original's API 3.0, checked as its SDKs compute it.

The SecretId is the app's ``app_id``, the SecretKey one of its valid secret keys (the current
one, or one in its grace period after a rotation). What is hashed is what arrived: the raw
body (POST) or the raw query string (GET), never re-serialised; the signed headers' values
verbatim (``Host`` with its port, as the client wrote it). The credential scope names the
service (always ``vod``: the SDK takes it from the client class, not from the endpoint) and
the UTC date of ``X-TC-Timestamp``, which must be within ±300 s of the server's clock.

The action, version and region headers are not signed (the SDKs sign ``content-type;host``),
and two calls with the same body in the same second carry the same signature: a replay cache
would refuse legitimate repeats, so none is kept. Use TLS off loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from livetape.tencent.dialect_errors import (
    INVALID_AUTHORIZATION,
    MISSING_PARAMETER,
    SECRET_ID_NOT_FOUND,
    SIGNATURE_EXPIRE,
    SIGNATURE_FAILURE,
    DialectError,
)

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "vod"
WINDOW_SECONDS = 300
_AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=([A-Za-z0-9_-]{1,64})/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)"
    r"/tc3_request, ?"
    r"SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})")

# an app's valid secret keys by its id (SecretId); empty: no such app
SecretsOf = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers, as received."""

    method: str
    query: str  # the raw query string
    headers: Mapping[str, str]  # lowercase names
    body: bytes


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, request: SignedRequest, signed_headers: list[str],
                  timestamp: int, date: str, service: str = SERVICE) -> str:
    """The hex signature of ``request`` under ``secret_key`` (as the SDK's ``sign_tc3``)."""
    payload = b"" if request.method == "GET" else request.body
    canonical_headers = "".join(f"{name}:{request.headers.get(name, '').strip()}\n"
                                for name in signed_headers)
    canonical = "\n".join([
        request.method, "/", request.query if request.method == "GET" else "",
        canonical_headers, ";".join(signed_headers), hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _timestamp(headers: Mapping[str, str], now: float) -> int:
    raw = headers.get("x-tc-timestamp")
    if raw is None:
        raise DialectError(MISSING_PARAMETER, "the X-TC-Timestamp header is missing")
    if not raw.isdigit() or len(raw) > 12:
        raise DialectError(INVALID_AUTHORIZATION,
                           "X-TC-Timestamp must be the Unix time in whole seconds")
    timestamp = int(raw)
    if abs(now - timestamp) > WINDOW_SECONDS:
        raise DialectError(SIGNATURE_EXPIRE, f"X-TC-Timestamp {timestamp} is more than "
                           f"{WINDOW_SECONDS} s from the server's time {int(now)}: check the "
                           "client's clock")
    return timestamp


async def verify(request: SignedRequest, secrets_of: SecretsOf, now: float) -> str:
    """The app id (SecretId) of a correctly signed request; :class:`DialectError` otherwise."""
    authorization = request.headers.get("authorization", "")
    if not authorization:
        raise DialectError(INVALID_AUTHORIZATION, "no Authorization header: sign requests "
                           "with TC3-HMAC-SHA256 (the SDK's default signMethod)")
    found = _AUTHORIZATION.fullmatch(authorization.strip())
    if found is None:
        raise DialectError(INVALID_AUTHORIZATION, "the Authorization header is not "
                           "'TC3-HMAC-SHA256 Credential=SecretId/date/vod/tc3_request, "
                           "SignedHeaders=..., Signature=...' (livetape checks TC3-HMAC-SHA256 "
                           "only)")
    secret_id, date, service, signed, signature = found.groups()
    if request.headers.get("x-tc-content-sha256", "").upper() == "UNSIGNED-PAYLOAD":
        raise DialectError(INVALID_AUTHORIZATION, "unsigned payloads are not accepted: leave "
                           "the profile's unsignedPayload off")
    timestamp = _timestamp(request.headers, now)
    if service != SERVICE:
        raise DialectError(SIGNATURE_FAILURE, f"the credential scope names the service "
                           f"{service!r}; livetape speaks the {SERVICE!r} API")
    expected_date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    if date != expected_date:
        raise DialectError(SIGNATURE_FAILURE, f"the credential scope's date {date} is not the "
                           f"UTC date of X-TC-Timestamp ({expected_date})")
    headers = signed.split(";")
    if "content-type" not in headers or "host" not in headers:
        raise DialectError(INVALID_AUTHORIZATION, "SignedHeaders must include content-type "
                           "and host")
    candidates = await secrets_of(secret_id)
    if not candidates:
        raise DialectError(SECRET_ID_NOT_FOUND, f"no app {secret_id!r}: the SecretId is the "
                           "app's app_id")
    for secret in candidates:
        computed = tc3_signature(secret, request, headers, timestamp, date, service)
        if hmac.compare_digest(computed, signature):
            return secret_id
    raise DialectError(SIGNATURE_FAILURE, "the signature does not match: check the SecretKey "
                       "(the app's secret key) and that nothing changes the body or the Host "
                       "header on the way")
