"""The original's 2017 API (v2), for its one call the seed names: DescribeVodPlayInfo, the
play URLs of the files whose name starts with ``fileName``.

``GET /v2/index.php?Action=DescribeVodPlayInfo&fileName=...&pageNo=1&pageSize=10`` with the
common parameters ``Region``, ``Timestamp``, ``Nonce``, ``SecretId``, ``Signature`` (and
optionally ``SignatureMethod=HmacSHA256``), or the same parameters as a form body (POST).
The signature is the legacy one its public documentation describes: HMAC-SHA1 (or -SHA256)
with the SecretKey over ``METHOD + host + /v2/index.php? + k1=v1&k2=v2...`` (every parameter
but ``Signature``, sorted by name, values not URL-encoded, ``host`` the ``Host`` header as
sent), base64. ``Timestamp`` must be within ±300 s. No maintained client of v2 exists to check
against: this follows the documentation, and the README says how sure that is.

The answer is the documented lower-camel JSON: ``{code, message, codeDesc, totalCount,
fileSet: [{fileId, fileName, duration, status, imageUrl, playSet: [{url, definition,
vbitrate, vheight, vwidth}]}]}``; errors carry ``code`` 4000 (parameters), 4100
(authentication) or 5000 (livetape's fault), always with HTTP 200.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from livetape.errors import LivetapeError
from livetape.tencent.context import Backends
from livetape.tencent.dialect import Received
from livetape.tencent.signature import WINDOW_SECONDS

log = logging.getLogger(__name__)

PATH = "/v2/index.php"
ACTION = "DescribeVodPlayInfo"
_DIGESTS = {"HmacSHA1": hashlib.sha1, "HmacSHA256": hashlib.sha256}


class LegacyError(Exception):
    def __init__(self, code: int, desc: str, message: str) -> None:
        super().__init__(message)
        self.code, self.desc, self.message = code, desc, message


def legacy_signature(secret_key: str, method: str, host: str, pairs: dict[str, str],
                     signature_method: str = "HmacSHA1") -> str:
    """The v2 signature of a call's parameters (``Signature`` itself left out)."""
    joined = "&".join(f"{k}={v}" for k, v in sorted(pairs.items()) if k != "Signature")
    source = f"{method}{host}{PATH}?{joined}"
    digest = hmac.new(secret_key.encode(), source.encode(), _DIGESTS[signature_method]).digest()
    return base64.b64encode(digest).decode()


def _int(pairs: dict[str, str], name: str, default: int, most: int) -> int:
    raw = pairs.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise LegacyError(4000, "InvalidParameter", f"{name} must be 1-{most}")
    return int(raw)


class LegacyDialect:
    """Answers the v2 DescribeVodPlayInfo for livetape's apps."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends

    async def answer(self, received: Received) -> dict[str, Any]:
        try:
            return await self._call(received)
        except LegacyError as exc:
            return {"code": exc.code, "message": exc.message, "codeDesc": exc.desc}
        except LivetapeError as exc:
            return {"code": 4000, "message": exc.body()["message"], "codeDesc": "InvalidParameter"}
        except Exception:
            log.exception("tencent v2 dialect")
            return {"code": 5000, "message": "internal error: see the server log",
                    "codeDesc": "InternalError"}

    async def _verify(self, received: Received, pairs: dict[str, str]) -> str:
        for name in ("SecretId", "Signature", "Timestamp", "Nonce"):
            if not pairs.get(name):
                raise LegacyError(4100, "AuthFailure", f"the common parameter {name} is missing")
        method = pairs.get("SignatureMethod", "HmacSHA1")
        if method not in _DIGESTS:
            raise LegacyError(4100, "AuthFailure", "SignatureMethod is HmacSHA1 or HmacSHA256")
        stamp = pairs["Timestamp"]
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > WINDOW_SECONDS:
            raise LegacyError(4100, "AuthFailure", f"Timestamp is more than {WINDOW_SECONDS} s "
                              "from the server's time: check the client's clock")
        app_id = pairs["SecretId"]
        app = await self._backends.apps.get(app_id) if len(app_id) <= 64 else None
        secrets = await self._backends.apps.keys.secrets_of(app) if app is not None else []
        host = received.headers.get("host", "")
        for secret in secrets:
            expected = legacy_signature(secret, received.method, host, pairs, method)
            if hmac.compare_digest(expected.encode(), pairs["Signature"].encode()):
                return app_id
        raise LegacyError(4100, "AuthFailure", "the signature does not match (or no such "
                          "SecretId: it is the app's app_id)")

    async def _call(self, received: Received) -> dict[str, Any]:
        raw = received.query if received.method == "GET" else received.body.decode("latin-1")
        listed = parse_qsl(raw, keep_blank_values=True)
        pairs = dict(listed)
        if len(pairs) != len(listed) or any("\x00" in k + v for k, v in listed):
            raise LegacyError(4000, "InvalidParameter", "a parameter is repeated or holds NUL")
        app_id = await self._verify(received, pairs)
        if pairs.get("Action") != ACTION:
            raise LegacyError(4000, "InvalidParameter", f"livetape's v2 API has only the "
                              f"Action {ACTION}")
        name = pairs.get("fileName", "")
        if not name:
            raise LegacyError(4000, "InvalidParameter", "fileName is required")
        page_no = _int(pairs, "pageNo", 1, 2**31 - 1)
        page_size = _int(pairs, "pageSize", 10, 100)
        total, views = await self._backends.playback.play_info(
            app_id, name, page_no, page_size, received.request_base)
        return {"code": 0, "message": "", "codeDesc": "Success", "totalCount": total,
                "fileSet": [{"fileId": v.file_id, "fileName": v.file_name,
                             "duration": v.duration, "status": v.status,
                             "imageUrl": v.image_url,
                             "playSet": [{"url": p.url, "definition": p.definition,
                                          "vbitrate": p.vbitrate, "vheight": p.vheight,
                                          "vwidth": p.vwidth} for p in v.play_set]}
                            for v in views]}
