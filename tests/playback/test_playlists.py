"""Playlist rewriting for a grant (pure: no server): every URI signed for its own path, the
trial cut of media playlists, master playlists, and where a segment starts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from livetape.playback.playlists import rewrite_playlist, segment_start
from livetape.playback.signing import Grant, signature

KEY = "0123456789abcdef0123456789abcdef"
FILE = "/media/100/1764028800123456789/hls"
MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:2.000,
seg_00000.ts
#EXTINF:2.000,
seg_00001.ts
#EXTINF:2.000,
seg_00002.ts
#EXTINF:1.500,
seg_00003.ts
#EXT-X-ENDLIST
"""
MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=300000,RESOLUTION=640x360,CODECS="avc1.42e01e,mp4a.40.2"
210/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=1280x720,CODECS="avc1.42e01f,mp4a.40.2"
220/index.m3u8
"""


def grant(exper: str = "", rlimit: str = "") -> Grant:
    return Grant(t="7fffffff", exper=exper, rlimit=rlimit, us="a1b2c3d4e5")


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def signed_for(uri: str, path: str, g: Grant) -> bool:
    """``uri`` carries the grant, signed for ``path`` (its own folder is the Dir)."""
    _, _, query = uri.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    expected = signature(KEY, path, g.t, g.exper, g.rlimit, g.us)
    return (params["t"], params.get("exper", ""), params.get("rlimit", ""), params["us"],
            params["sign"]) == (g.t, g.exper, g.rlimit, g.us, expected)


def test_media_playlist_each_segment_signed_for_its_own_path() -> None:
    g = grant(rlimit="2")
    text = rewrite_playlist(MEDIA, f"{FILE}/210/index.m3u8", KEY, g)
    listed = uris(text)
    assert [u.partition("?")[0] for u in listed] == [f"seg_0000{i}.ts" for i in range(4)]
    for uri in listed:
        assert signed_for(uri, f"{FILE}/210/{uri.partition('?')[0]}", g), uri
        assert "exper=" not in uri  # empty parameters are left out (and sign as "")
    # the tags stay, ENDLIST once at the end
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n")
    assert text.count("#EXT-X-ENDLIST") == 1 and text.endswith("#EXT-X-ENDLIST\n")
    assert text.count("#EXTINF:") == 4


def test_signature_differs_per_folder() -> None:
    g = grant()
    a = uris(rewrite_playlist(MEDIA, f"{FILE}/210/index.m3u8", KEY, g))[0]
    b = uris(rewrite_playlist(MEDIA, f"{FILE}/220/index.m3u8", KEY, g))[0]
    assert a != b  # same segment name, another Dir
    assert not signed_for(a, f"{FILE}/220/seg_00000.ts", g)


def test_master_playlist_variants_signed_for_their_folders() -> None:
    g = grant(exper="30")
    text = rewrite_playlist(MASTER, f"{FILE}/master.m3u8", KEY, g)
    listed = uris(text)
    assert [u.partition("?")[0] for u in listed] == ["210/index.m3u8", "220/index.m3u8"]
    for uri in listed:
        assert signed_for(uri, f"{FILE}/{uri.partition('?')[0]}", g), uri
    assert "#EXT-X-ENDLIST" not in text  # a master has none, even under a trial
    assert 'CODECS="avc1.42e01e,mp4a.40.2"' in text


def test_trial_cuts_after_the_segment_holding_its_end() -> None:
    def kept(exper: str) -> list[str]:
        text = rewrite_playlist(MEDIA, f"{FILE}/210/index.m3u8", KEY, grant(exper=exper))
        assert text.endswith("#EXT-X-ENDLIST\n")
        return [u.partition("?")[0] for u in uris(text)]

    assert kept("1") == ["seg_00000.ts"]  # 0-2 s holds second 1
    assert kept("3") == ["seg_00000.ts", "seg_00001.ts"]  # 2-4 s holds second 3
    assert kept("4") == ["seg_00000.ts", "seg_00001.ts"]  # ends exactly where seg 2 starts
    assert kept("5") == ["seg_00000.ts", "seg_00001.ts", "seg_00002.ts"]
    assert kept("7") == [f"seg_0000{i}.ts" for i in range(4)]  # 7.5 s in all
    assert kept("1000") == kept("")  # longer than the file: all of it


def test_trial_ends_an_open_playlist() -> None:
    live = MEDIA.replace("#EXT-X-ENDLIST\n", "")
    whole = rewrite_playlist(live, f"{FILE}/210/index.m3u8", KEY, grant())
    assert "#EXT-X-ENDLIST" not in whole  # not cut: left as it was
    cut = rewrite_playlist(live, f"{FILE}/210/index.m3u8", KEY, grant(exper="2"))
    assert cut.endswith("#EXT-X-ENDLIST\n") and len(uris(cut)) == 1


def test_segment_start(tmp_path: Path) -> None:
    playlist = tmp_path / "index.m3u8"
    assert segment_start(playlist, "seg_00000.ts") is None  # no playlist
    playlist.write_text(MEDIA)
    assert segment_start(playlist, "seg_00000.ts") == 0.0
    assert segment_start(playlist, "seg_00002.ts") == 4.0
    assert segment_start(playlist, "seg_00003.ts") == 6.0
    assert segment_start(playlist, "seg_00009.ts") is None  # not listed
