"""TC3-HMAC-SHA256 checked against what the official SDK's own signer produces (no server):
POST and GET, non-ASCII parameters, and each way a signature can fail."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.abstract_client import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import vod_client

from livetape.tencent.dialect_errors import DialectError
from livetape.tencent.signature import SignedRequest, verify

APP, KEY, HOST = "1234567890", "the-secret-key", "LOCALHOST:8080"


def sdk_signed(method: str, params: dict[str, Any], key: str = KEY) -> SignedRequest:
    """A request as the unmodified SDK signs it (its own signer, not livetape's)."""
    profile = HttpProfile(endpoint=HOST, protocol="http", reqMethod=method)
    client = vod_client.VodClient(credential.Credential(APP, key), "ap-guangzhou",
                                  ClientProfile(httpProfile=profile))
    request = RequestInternal(HOST, method, "/", header={})
    client._build_req_inter("SearchMedia", params, request)  # signs it in place
    headers = {k.lower(): str(v) for k, v in request.header.items()}
    if method == "GET":
        return SignedRequest("GET", request.data, headers, b"")
    return SignedRequest("POST", "", headers, request.data.encode())


async def secrets_of(app_id: str) -> list[str]:
    return ["an-older-key-in-grace", KEY] if app_id == APP else []


async def failure(request: SignedRequest, now: float | None = None) -> str:
    with pytest.raises(DialectError) as caught:
        await verify(request, secrets_of, time.time() if now is None else now)
    return caught.value.code


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_the_sdks_signatures_verify(method: str) -> None:
    params = {"Names": ["a b", "été"], "Sort": {"Field": "CreateTime"}, "Limit": 2}
    assert await verify(sdk_signed(method, params), secrets_of, time.time()) == APP


async def test_each_failure_has_its_code() -> None:
    good = sdk_signed("POST", {"Limit": 1})
    assert await failure(sdk_signed("POST", {"Limit": 1}, key="wrong")) == (
        "AuthFailure.SignatureFailure")
    tampered = SignedRequest("POST", "", good.headers, b'{"Limit": 2}')
    assert await failure(tampered) == "AuthFailure.SignatureFailure"
    other_host = SignedRequest("POST", "", {**good.headers, "host": "localhost:8080"},
                               good.body)  # the Host is signed verbatim, case included
    assert await failure(other_host) == "AuthFailure.SignatureFailure"
    assert await failure(good, now=time.time() + 301) == "AuthFailure.SignatureExpire"
    assert await failure(good, now=time.time() - 301) == "AuthFailure.SignatureExpire"
    unknown = SignedRequest("POST", "", {**good.headers, "authorization": good.headers[
        "authorization"].replace(APP, "999")}, good.body)
    assert await failure(unknown) == "AuthFailure.SecretIdNotFound"
    for authorization in ("", "Bearer x", good.headers["authorization"][:-1]):
        broken = SignedRequest("POST", "", {**good.headers, "authorization": authorization},
                               good.body)
        assert await failure(broken) == "AuthFailure.InvalidAuthorization", authorization
    unsigned = SignedRequest("POST", "", {**good.headers,
                                          "x-tc-content-sha256": "UNSIGNED-PAYLOAD"}, good.body)
    assert await failure(unsigned) == "AuthFailure.InvalidAuthorization"
    other_service = SignedRequest("POST", "", {**good.headers, "authorization": good.headers[
        "authorization"].replace("/vod/", "/cvm/")}, good.body)
    assert await failure(other_service) == "AuthFailure.SignatureFailure"
