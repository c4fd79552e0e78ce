"""PlayGuard and grants, unit by unit (no server): the original's anti-leech signature,
expiry, the key, Dir scoping, exper/rlimit encoding, tampering and the viewer-IP limit."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qsl

import pytest

from livetape.errors import Catalogue, LivetapeError
from livetape.playback.signing import Grant, PlayGuard, PlayUrls, new_grant, signature, url_dir

KEY = "0123456789abcdef0123456789abcdef"
PATH = "/media/app/file/f0.mp4"


def signed(grant: Grant, path: str = PATH, key: str = KEY) -> dict[str, str]:
    return dict(parse_qsl(grant.query(key, path)))


def refused(guard: PlayGuard, params: dict[str, str], *, path: str = PATH, key: str = KEY,
            ip: str = "10.0.0.1") -> str:
    with pytest.raises(LivetapeError) as err:
        guard.check(key, path, params, ip)
    assert err.value.kind is Catalogue.PLAY_FORBIDDEN and err.value.kind.http_status == 403
    return err.value.detail or ""


def test_the_signature_is_the_originals_md5() -> None:
    assert url_dir(PATH) == "/media/app/file/" and url_dir("/f0.mp4") == "/"
    expected = hashlib.md5(f"{KEY}/media/app/file/5f5e1000309ab12cd".encode()).hexdigest()
    assert signature(KEY, PATH, "5f5e1000", "30", "9", "ab12cd") == expected


def test_a_grant_encodes_only_what_it_sets() -> None:
    plain = new_grant(60)
    params = signed(plain)
    assert set(params) == {"t", "us", "sign"}  # no trial, no IP limit: left out
    assert abs(int(params["t"], 16) - (time.time() + 60)) < 5 and params["t"].islower()
    assert plain.trial_seconds == 0
    limited = new_grant(60, exper=30, rlimit=2)
    params = signed(limited)
    assert (params["exper"], params["rlimit"], limited.trial_seconds) == ("30", "2", 30)
    assert params["sign"] == signature(KEY, PATH, params["t"], "30", "2", params["us"])
    assert new_grant(60).us != new_grant(60).us  # a random part per grant


def test_a_signed_url_passes_and_returns_its_grant() -> None:
    grant = new_grant(60, exper=30, rlimit=3)
    assert PlayGuard(10).check(KEY, PATH, signed(grant), "10.0.0.1") == grant


def test_optional_fields_may_be_left_out_as_in_the_original() -> None:
    t = format(int(time.time()) + 60, "x")
    params = {"t": t, "sign": signature(KEY, PATH, t, "", "", "")}
    assert PlayGuard(10).check(KEY, PATH, params, "10.0.0.1") == Grant(t, "", "", "")
    upper = {**params, "sign": params["sign"].upper()}  # hex digits of either case
    assert PlayGuard(10).check(KEY, PATH, upper, "10.0.0.1").t == t


def test_missing_or_malformed_fields_are_refused() -> None:
    guard = PlayGuard(10)
    params = signed(new_grant(60))
    assert "missing" in refused(guard, {})
    assert "missing" in refused(guard, {k: v for k, v in params.items() if k != "sign"})
    assert "missing" in refused(guard, {k: v for k, v in params.items() if k != "t"})
    for field, value in (("t", "not-hex"), ("exper", "ten"), ("rlimit", "1.5")):
        assert "must be" in refused(guard, {**params, field: value})


def test_an_expired_url_is_refused_even_when_correctly_signed() -> None:
    t = format(int(time.time()) - 1, "x")
    params = {"t": t, "sign": signature(KEY, PATH, t, "", "", "")}
    assert "expired" in refused(PlayGuard(10), params)


def test_the_wrong_key_does_not_verify() -> None:
    params = signed(new_grant(60), key="another-apps-play-key")
    assert "does not match" in refused(PlayGuard(10), params)


@pytest.mark.parametrize("field", ["t", "exper", "rlimit", "us", "sign"])
def test_tampering_with_any_field_breaks_the_signature(field: str) -> None:
    params = signed(new_grant(60, exper=30, rlimit=2))
    changed = {"t": format(int(params["t"], 16) + 3600, "x"), "exper": "3000", "rlimit": "1000",
               "us": "0000000000", "sign": "0" * 32}[field]
    assert "does not match" in refused(PlayGuard(10), {**params, field: changed})
    dropped = {k: v for k, v in params.items() if k != field}
    if field not in ("t", "sign"):  # an optional field dropped is signed as empty
        assert "does not match" in refused(PlayGuard(10), dropped)


def test_a_signature_covers_its_folder_only() -> None:
    params = signed(new_grant(60))
    guard = PlayGuard(10)
    # same folder, another file: the same signature serves it (Dir is the scope)
    assert guard.check(KEY, "/media/app/file/cover.jpg", params, "10.0.0.1")
    assert "does not match" in refused(guard, params, path="/media/app/other/f0.mp4")
    assert "does not match" in refused(guard, params, path="/media/app/file/hls/index.m3u8")


def test_a_grant_signs_each_path_for_its_own_folder() -> None:
    grant = new_grant(60, exper=10)
    guard = PlayGuard(10)
    for path in ("/media/app/file/hls/index.m3u8", "/media/app/file/hls/720/seg-1.ts"):
        assert guard.check(KEY, path, signed(grant, path), "10.0.0.1") == grant


def test_rlimit_counts_distinct_viewer_ips_per_signature() -> None:
    guard = PlayGuard(10)
    params = signed(new_grant(60, rlimit=2))
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"):  # repeat visits are free
        guard.check(KEY, PATH, params, ip)
    assert "limited to 2 viewer IP(s)" in refused(guard, params, ip="10.0.0.3")
    other = signed(new_grant(60, rlimit=2))  # another signature has its own count
    guard.check(KEY, PATH, other, "10.0.0.3")
    unlimited = signed(new_grant(60))
    for n in range(20):
        guard.check(KEY, PATH, unlimited, f"10.0.1.{n}")


def test_rlimit_tracking_is_bounded_by_max_tracked() -> None:
    guard = PlayGuard(2)
    first = signed(new_grant(60, rlimit=1))
    guard.check(KEY, PATH, first, "10.0.0.1")
    assert "limited" in refused(guard, first, ip="10.0.0.2")
    for _ in range(2):  # two newer signatures push the first out of the table
        guard.check(KEY, PATH, signed(new_grant(60, rlimit=1)), "10.0.0.9")
    guard.check(KEY, PATH, first, "10.0.0.2")  # forgotten: counted afresh


def test_play_urls_sign_under_one_grant_or_not_at_all() -> None:
    grant = new_grant(60, exper=5)
    urls = PlayUrls("http://h:8080/", KEY, grant)
    url = urls(PATH)
    assert url.startswith("http://h:8080/media/app/file/f0.mp4?")
    assert dict(parse_qsl(url.split("?", 1)[1])) == signed(grant)
    assert PlayUrls("http://h:8080", KEY, None)(PATH) == "http://h:8080" + PATH


def test_rlimit_holds_through_the_urls_last_second() -> None:
    while time.time() % 1 > 0.5:  # run early in a second: the URL stays valid throughout
        time.sleep(0.05)
    t = format(int(time.time()), "x")  # expires at the end of this very second
    params = {"t": t, "rlimit": "1", "sign": signature(KEY, PATH, t, "", "1", "")}
    guard = PlayGuard(10)
    guard.check(KEY, PATH, params, "10.0.0.1")
    assert "limited" in refused(guard, params, ip="10.0.0.2")
