"""The recording path end to end: WHIP publish -> record -> stop -> play info -> MP4, decoded."""

from __future__ import annotations

from pathlib import Path

import httpx

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import download, ffprobe, files_of, publishing, record_all_of
from livetape_harness.media_checks import beep_times, flash_times, probe
from livetape_harness.server import ServerFactory

FPS = 30
SYNC_TOLERANCE = 0.040  # seconds: flash vs beep in the recorded file
# aiortc's jitter buffer releases a video frame when the next frame's first packet arrives,
# so the frame a publisher sends last before it goes quiet never reaches the recorder.
HELD_BACK = 1
# Likewise its audio buffer holds 4 packets (80 ms), and the audio packet that straddles the
# file's first key frame is left out: the audio track may end up to 100 ms short, no more.
AUDIO_SHORT = 0.1 + 0.01


def file_start_in_source(media: EncodedMedia, first_flash: float) -> float:
    """Where in the published media the file begins, read from the first recorded flash.

    Files start on a key frame (every second in the synthetic media); the file's first flash
    is the first published flash after that, so the earliest key frame time that fits is it.
    """
    candidates = [
        s - first_flash for s in media.flash_times
        if s - first_flash >= -0.01 and abs((s - first_flash) - round(s - first_flash)) < 0.02
    ]
    assert candidates, (media.flash_times, first_flash)
    return round(min(candidates))


def assert_in_sync(path: Path) -> list[float]:
    flashes, beeps = flash_times(path), beep_times(path)
    assert flashes and len(flashes) == len(beeps), (flashes, beeps)
    for flash, beep in zip(flashes, beeps, strict=True):
        assert abs(flash - beep) <= SYNC_TOLERANCE, f"A/V off by {beep - flash:+.3f} s"
    return flashes


async def test_publish_record_stop_play(
    start_server: ServerFactory, backend: str, tmp_path: Path
) -> None:
    server = start_server(backend)
    media = EncodedMedia.synthetic(10.0, width=640, height=360, fps=FPS)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        created = await api._call("POST", "/v1/vod/classes", json={"name": "lessons"})
        lessons = created["class_id"]
        async with publishing(server, media) as publisher:
            room = await api.get_room("room-1")
            assert room["members"][0]["user_id"] == "alice"
            stream = room["members"][0]["streams"][0]
            assert stream["codecs"] == {"audio": "opus", "video": "h264"}
            recording_id = await api.start_recording(
                "room-1", "lesson-42", user_id="alice", tags=["math"], class_id=lessons
            )
            assert (await api.get_room("room-1"))["recordings"][0]["recording_id"] == recording_id
            await publisher.wait_done()
            file_ids = await api.stop_recording("room-1", user_id="alice")
        assert len(file_ids) == 1
        recording = await api.get_recording(recording_id)
        assert recording["state"] == "ended" and recording["end_reason"] == "stopped"
        assert recording["file_ids"] == file_ids

        files = await files_of(api, "lesson")
        assert [f["file_id"] for f in files] == file_ids
        entry = files[0]
        assert entry["file_name"] == "lesson-42" and entry["status"] == 2
        assert entry["tags"] == ["math"] and entry["class_id"] == lessons
        play = entry["play_set"][0]
        assert play["definition"] == 0 and (play["vwidth"], play["vheight"]) == (640, 360)
        assert play["url"].startswith(server.url)
        assert (await api.get_file(file_ids[0]))["duration"] == entry["duration"]
        path = await download(play["url"], tmp_path / "lesson.mp4")

    info = probe(path)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "opus"
    assert info["video"]["first_keyframe"] is True
    assert (info["video"]["width"], info["video"]["height"]) == (640, 360)
    flashes = assert_in_sync(path)
    start = file_start_in_source(media, flashes[0])
    assert start <= 3, "recording began more than 3 s after start was requested"
    expected = media.duration - start
    assert abs(info["duration"] - expected) < 0.5
    assert abs(entry["duration"] - info["duration"]) < 0.05
    assert info["video"]["frames"] == media.video_frame_count - start * FPS - HELD_BACK
    assert -AUDIO_SHORT <= info["audio"]["samples"] / 48000 - expected <= 0.01
    assert entry["size"] == path.stat().st_size

    standard = ffprobe(path)
    assert "isom" in standard["format"]["format_name"] or "mp4" in standard["format"]["format_name"]
    assert abs(float(standard["format"]["duration"]) - info["duration"]) < 0.05
    assert {s["codec_name"] for s in standard["streams"]} == {"h264", "opus"}


async def test_play_url_serves_ranges_and_heads(start_server: ServerFactory) -> None:
    server = start_server()
    media = EncodedMedia.synthetic(4.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        _, files = await record_all_of(server, api, media, "ranged")
        url = files[0]["play_set"][0]["url"]
    async with httpx.AsyncClient() as http:
        whole = await http.get(url)
        size = len(whole.content)
        head = await http.head(url)
        assert head.status_code == 200 and int(head.headers["content-length"]) == size
        assert head.headers["accept-ranges"] == "bytes"
        assert head.headers["content-type"] == "video/mp4"
        part = await http.get(url, headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1099/{size}"
        assert part.content == whole.content[100:1100]
        tail = await http.get(url, headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == whole.content[-500:]
        bad = await http.get(url, headers={"Range": f"bytes={size + 10}-"})
        assert bad.status_code == 416
        cors = await http.get(url, headers={"Origin": "https://player.example"})
        assert cors.headers["access-control-allow-origin"] == "*"
        etag, modified = whole.headers["etag"], whole.headers["last-modified"]
        cached = await http.get(url, headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == etag
        assert (await http.get(url, headers={"If-None-Match": '"stale"'})).status_code == 200
        assert (await http.get(url, headers={"If-Modified-Since": modified})).status_code == 304
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert (await http.get(url, headers={"If-Modified-Since": old})).status_code == 200
        stale_range = await http.get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'})
        assert stale_range.status_code == 200  # If-Range mismatch: the whole file


async def test_segments_rotate_without_gap_or_overlap(
    start_server: ServerFactory, backend: str, tmp_path: Path
) -> None:
    server = start_server(backend, segment_seconds=3)
    media = EncodedMedia.synthetic(11.0, fps=FPS)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        file_ids, files = await record_all_of(server, api, media, "long-class")
        assert [f["file_id"] for f in files] == file_ids
        paths = [
            await download(f["play_set"][0]["url"], tmp_path / f"part{i}.mp4")
            for i, f in enumerate(files)
        ]
    infos = [probe(p) for p in paths]
    assert len(paths) >= 3
    for info in infos:
        assert info["video"]["first_keyframe"] is True and "audio" in info
    for info in infos[:-1]:  # key frames every second: each cut lands exactly on 3 s
        assert info["video"]["frames"] == 3 * FPS
        assert abs(info["duration"] - 3.0) < 0.05
        assert abs(info["audio"]["samples"] / 48000 - 3.0) < 0.03  # no audio gap or overlap
    total_frames = sum(i["video"]["frames"] for i in infos)
    first_flash = flash_times(paths[0])[0]
    start = file_start_in_source(media, first_flash)
    assert total_frames == media.video_frame_count - start * FPS - HELD_BACK
    assert abs(sum(i["duration"] for i in infos) - (media.duration - start)) < 0.5


async def test_audio_only_recording(start_server: ServerFactory, tmp_path: Path) -> None:
    server = start_server()
    media = EncodedMedia.synthetic(4.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        _, (entry,) = await record_all_of(server, api, media, "podcast", record_type="audio")
        assert entry["play_set"][0]["vwidth"] == 0
        path = await download(entry["play_set"][0]["url"], tmp_path / "podcast.mp4")
    info = probe(path)
    assert info["video"] is None and info["audio"]["codec"] == "opus"
    assert 2.5 < info["duration"] <= 4.1


async def test_vp8_publisher_gets_a_playable_h264_mp4(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server()
    media = EncodedMedia.synthetic(5.0, video_codec="vp8", width=320, height=240, fps=FPS)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, media) as publisher:
            room = await api.get_room("room-1")
            assert room["members"][0]["streams"][0]["codecs"]["video"] == "vp8"
            await api.start_recording("room-1", "vp8-class", user_id="alice")
            await publisher.wait_done()
            await api.stop_recording("room-1", user_id="alice")
        entry = (await files_of(api, "vp8-class"))[0]
        path = await download(entry["play_set"][0]["url"], tmp_path / "vp8.mp4")
    info = probe(path)
    assert info["video"]["codec"] == "h264" and info["video"]["first_keyframe"] is True
    assert (info["video"]["width"], info["video"]["height"]) == (320, 240)
    flashes = assert_in_sync(path)
    start = file_start_in_source(media, flashes[0])
    assert info["video"]["frames"] == media.video_frame_count - start * FPS - HELD_BACK


async def test_camera_and_screen_record_at_once(start_server: ServerFactory) -> None:
    server = start_server()
    media = EncodedMedia.synthetic(4.0)
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        async with publishing(server, media, src_type="camera") as cam, publishing(
            server, media, src_type="screen", create_room=False
        ) as screen:
            streams = (await api.get_room("room-1"))["members"][0]["streams"]
            assert sorted(s["src_type"] for s in streams) == ["camera", "screen"]
            await api.start_recording("room-1", "cam", user_id="alice", src_type="camera")
            await api.start_recording("room-1", "scr", user_id="alice", src_type="screen")
            await cam.wait_done()
            await screen.wait_done()
            from_camera = await api.stop_recording("room-1", user_id="alice", src_type="camera")
            from_screen = await api.stop_recording("room-1", user_id="alice", src_type="screen")
        assert len(from_camera) == len(from_screen) == 1
        cam_file, screen_file = (await files_of(api, "cam"))[0], (await files_of(api, "scr"))[0]
        assert (cam_file["src_type"], cam_file["file_id"]) == ("camera", from_camera[0])
        assert (screen_file["src_type"], screen_file["file_id"]) == ("screen", from_screen[0])
