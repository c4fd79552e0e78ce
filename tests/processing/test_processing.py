"""livetape.processing on real media made here: what a viewer of each output would see.

Sources are written with PyAV at the start (H.264 + stereo Opus in MP4, like a recording).
Every video frame shows its own index as a row of black/white blocks (bit j of the index
in block j), so a snapshot or a rendition's frame can be traced back to the source frame
it came from; a moving box and a brightness ramp give the encoders real work.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from livetape import processing
from livetape.processing import (
    POSITIONS,
    check_png,
    cover,
    encoders,
    plan,
    snapshots,
    transcode,
    watermark,
)

FPS = 30
BITS = 8  # frame-index blocks across the top quarter of the picture
VIDEO_TB = Fraction(1, 90000)


def _picture(index: int, n: int, width: int, height: int) -> np.ndarray:
    yuv = np.full((height * 3 // 2, width), 128, np.uint8)
    yuv[:height] = 40 + (index * 120) // max(1, n)
    x = (index * 9) % (width - 32)
    yuv[height // 2:height // 2 + 32, x:x + 32] = 200
    block = width // BITS
    for bit in range(BITS):
        yuv[:height // 4, bit * block:(bit + 1) * block] = 235 if index >> bit & 1 else 16
    return yuv


def frame_index(gray: np.ndarray) -> int:
    """The index a frame shows (from its gray picture, any size)."""
    height, width = gray.shape
    block = width / BITS
    return sum(1 << bit for bit in range(BITS)
               if gray[height // 8, int((bit + 0.5) * block)] > 128)


def make_source(path: Path, seconds: float, *, width: int = 1280, height: int = 720,
                video: bool = True, audio: bool = True, drop: Sequence[int] = (),
                audio_gap: tuple[float, float] = (0.0, 0.0)) -> Path:
    """An MP4 like a recording: H.264 (1/90000 clock, no B-frames) + 48 kHz stereo Opus;
    frames whose index is in ``drop`` are left out (variable frame rate), and so are the
    Opus packets starting in ``audio_gap`` (seconds; lost packets)."""
    n = round(seconds * FPS)
    with av.open(str(path), "w") as out:
        if video:  # every stream is added before the first packet is muxed
            vs = out.add_stream("libx264", rate=FPS, options={
                "preset": "ultrafast", "x264-params": "bframes=0:keyint=60"})
            vs.codec_context.width, vs.codec_context.height = width, height
            vs.codec_context.pix_fmt = "yuv420p"
            vs.codec_context.time_base = vs.time_base = VIDEO_TB
        if audio:
            ast = out.add_stream("libopus", rate=48000, layout="stereo")
        if video:
            for i in range(n):
                if i in drop:
                    continue
                frame = av.VideoFrame.from_ndarray(_picture(i, n, width, height),
                                                   format="yuv420p")
                frame.pts, frame.time_base = round(i / FPS / VIDEO_TB), VIDEO_TB
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
        if audio:
            total = round(seconds * 48000)
            for start in range(0, total, 960):
                t = np.arange(start, min(start + 960, total)) / 48000
                tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp",
                                                   layout="stereo")
                frame.sample_rate, frame.pts = 48000, start
                frame.time_base = Fraction(1, 48000)
                out.mux([p for p in ast.encode(frame)
                         if not audio_gap[0] <= p.pts / 48000 < audio_gap[1]])
            out.mux(ast.encode(None))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def source(media: Path) -> Path:
    """4 s, 1280x720@30, H.264 + stereo Opus."""
    return make_source(media / "source.mp4", 4.0)


def video_frames(path: Path) -> list[tuple[float, int]]:
    """(time, shown index) of every decoded video frame."""
    with av.open(str(path)) as container:
        return [(f.time, frame_index(f.to_ndarray(format="gray")))
                for f in container.decode(video=0)]


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return (container.duration or 0) / av.time_base


def test_public_names() -> None:
    for name in processing.__all__:
        assert hasattr(processing, name)
    assert {"transcode", "snapshots", "cover", "watermark", "check_png", "plan",
            "Output", "Image", "Watermarked", "TranscodeResult"} <= set(processing.__all__)


def test_plan_caps_at_the_source_and_keeps_the_aspect_ratio() -> None:
    sizes = [(t.profile.definition, t.width, t.height) for t in plan([10, 20, 30], 1280, 720)]
    assert sizes == [(10, 640, 360), (20, 1280, 720), (30, 1280, 720)]
    assert [(t.width, t.height) for t in plan([230], 1920, 1080)] == [(1920, 1080)]
    assert [(t.width, t.height) for t in plan([10], 720, 1280)] == [(202, 360)]  # portrait
    assert [(t.width, t.height) for t in plan([220], 853, 481)] == [(852, 480)]
    assert [(t.width, t.height) for t in plan([10, 210], 0, 0)] == [(0, 0), (0, 0)]
    with pytest.raises(ValueError, match=r"unknown definition 40.*10, 20, 30, 210, 220, 230"):
        plan([10, 40], 1280, 720)


def test_transcode_writes_the_mp4_and_hls_ladder(source: Path, tmp_path: Path) -> None:
    calls: list[float] = []
    result = transcode(source, tmp_path, [10, 20, 30, 210, 220, 230], hls_segment_seconds=1.0,
                       progress=calls.append)
    src_frames, src_duration = video_frames(source), duration(source)
    assert [i for _, i in src_frames] == list(range(120))
    assert 10 <= len(calls) <= 101 and calls[-1] == 1.0 and calls == sorted(calls)

    by_def = {o.definition: o for o in result.outputs}
    assert list(by_def) == [10, 20, 30, 210, 220, 230]
    expected = {10: (640, 360), 20: (1280, 720), 30: (1280, 720)}
    for definition, (width, height) in expected.items():
        out = by_def[definition]
        assert out.path == Path(f"f{definition}.mp4") and out.container == "mp4"
        path = tmp_path / out.path
        assert path.read_bytes()[4:8] == b"ftyp" and path.read_bytes().find(b"moov") < \
            path.read_bytes().find(b"mdat")  # faststart
        with av.open(str(path)) as c:
            assert c.streams.video[0].codec_context.name == "h264"
            assert c.streams.audio[0].codec_context.name == "aac"
            assert c.streams.audio[0].codec_context.sample_rate == 48000
            assert (c.streams.video[0].codec_context.width,
                    c.streams.video[0].codec_context.height) == (width, height)
        frames = video_frames(path)
        assert [i for _, i in frames] == list(range(120))  # every frame, in order, once
        assert abs(duration(path) - src_duration) < 0.2
        assert (out.width, out.height) == (width, height)
        assert abs(out.duration - src_duration) < 0.2 and out.size == path.stat().st_size
        assert out.video_bitrate > 0

    assert result.master == Path("hls/master.m3u8")
    master = (tmp_path / result.master).read_text().splitlines()
    assert master[0] == "#EXTM3U"
    variants = {}
    for info, uri in itertools.pairwise(master):
        if info.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', info.split(":", 1)[1]))
            variants[uri] = attrs
    assert set(variants) == {"210/index.m3u8", "220/index.m3u8", "230/index.m3u8"}
    assert variants["210/index.m3u8"]["RESOLUTION"] == "640x360"
    assert variants["230/index.m3u8"]["RESOLUTION"] == "1280x720"
    for uri, attrs in variants.items():
        assert int(attrs["BANDWIDTH"]) > 0
        assert re.fullmatch(r'"avc1\.[0-9A-F]{6},mp4a\.40\.2"', attrs["CODECS"])
        out = by_def[int(uri.split("/")[0])]
        assert out.path == Path("hls", uri) and out.container == "hls"
        playlist = tmp_path / "hls" / uri
        text = playlist.read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text
        extinf = [float(x) for x in re.findall(r"#EXTINF:([\d.]+)", text)]
        segments = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert len(segments) == len(extinf) >= 3
        assert abs(sum(extinf) - src_duration) < 0.2
        shown, size = [], playlist.stat().st_size
        for name in segments:
            segment = playlist.parent / name
            size += segment.stat().st_size
            with av.open(str(segment)) as c:  # each segment decodes on its own
                decoded = list(c.decode(video=0))
                assert decoded and decoded[0].key_frame
                shown += [frame_index(f.to_ndarray(format="gray")) for f in decoded]
            with av.open(str(segment)) as c:
                assert sum(1 for _ in c.decode(audio=0)) > 0
        assert shown == list(range(120))
        assert out.size == size and abs(out.duration - src_duration) < 0.2


def test_variable_frame_rate_keeps_every_frame_at_its_time(media: Path, tmp_path: Path) -> None:
    drop = [*range(31, 45), *range(61, 91, 2)]  # a 0.5 s hole, then 15 fps for a second
    vfr = make_source(media / "vfr.mp4", 4.0, width=640, height=360, drop=drop)
    result = transcode(vfr, tmp_path, [10, 210], hls_segment_seconds=1.0)
    src = video_frames(vfr)
    out = video_frames(tmp_path / result.outputs[0].path)
    assert [i for _, i in out] == [i for _, i in src] == [i for i in range(120) if i not in drop]
    assert max(abs(a - b) for (a, _), (b, _) in zip(out, src, strict=True)) < 0.002
    assert abs(result.outputs[1].duration - duration(vfr)) < 0.2


def test_audio_only_and_video_only_sources(media: Path, tmp_path: Path) -> None:
    audio = make_source(media / "audio.mp4", 2.0, video=False)
    result = transcode(audio, tmp_path / "a", [10, 20, 210])
    for out in result.outputs:
        assert (out.width, out.height, out.video_bitrate) == (0, 0, 0)
        assert abs(out.duration - 2.0) < 0.2
    with av.open(str(tmp_path / "a" / "f10.mp4")) as c:
        assert not c.streams.video and c.streams.audio[0].codec_context.name == "aac"
    assert result.master is not None
    master = (tmp_path / "a" / result.master).read_text()
    assert 'CODECS="mp4a.40.2"' in master and "RESOLUTION" not in master

    silent = make_source(media / "silent.mp4", 2.0, width=320, height=240, audio=False)
    result = transcode(silent, tmp_path / "v", [20])
    with av.open(str(tmp_path / "v" / "f20.mp4")) as c:
        assert not c.streams.audio and c.streams.video[0].codec_context.height == 240
    assert result.master is None and result.outputs[0].width == 320


def test_audio_gaps_become_silence(media: Path, tmp_path: Path) -> None:
    lossy = make_source(media / "lossy.mp4", 3.0, width=320, height=240, audio_gap=(1.0, 1.5))
    transcode(lossy, tmp_path, [10])
    with av.open(str(tmp_path / "f10.mp4")) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    # without filling, 0.5 s of audio would be missing and everything after it early
    assert abs(samples / 48000 - 3.0) < 0.05


def test_an_encoder_failure_fails_the_job(source: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    feed = encoders.VideoEncoder.feed

    def failing(self: encoders.VideoEncoder, frame: av.VideoFrame | None) -> None:
        if self.height == 720 and frame is not None and frame.pts > 90000:
            raise RuntimeError("x264 broke")
        feed(self, frame)

    monkeypatch.setattr(encoders.VideoEncoder, "feed", failing)
    with pytest.raises(RuntimeError, match="x264 broke"):  # raised, not hung
        transcode(source, tmp_path, [10, 20, 210])


def test_transcode_refuses_bad_input(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown definition 11"):
        transcode(source, tmp_path, [10, 11])
    with pytest.raises(ValueError, match="no definitions"):
        transcode(source, tmp_path, [])
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ValueError):
        transcode(junk, tmp_path / "out", [10])


def test_snapshots_show_the_frame_at_each_offset(source: Path, tmp_path: Path) -> None:
    images = snapshots(source, tmp_path, [2500, 0, 1000, 3980])
    assert [i.time_offset_ms for i in images] == [0, 1000, 2500, 3980]
    for image in images:
        assert image.path == Path("snap", f"{image.time_offset_ms}.jpg")
        with av.open(str(tmp_path / image.path)) as c:
            frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (image.width, image.height) == (1280, 720)
        # the first frame at or after the offset (the last one for 3980 ms)
        assert frame_index(frame.to_ndarray(format="gray")) == min(
            119, -(-image.time_offset_ms * FPS // 1000))
    small = snapshots(source, tmp_path / "small", [1234], width=320)
    assert (small[0].width, small[0].height) == (320, 180)
    with av.open(str(tmp_path / "small" / small[0].path)) as c:
        frame = next(c.decode(video=0))
    assert (frame.width, frame.height) == (320, 180)
    assert frame_index(frame.to_ndarray(format="gray")) == 38  # 1.2333 s -> frame 37.02 -> 38

    with pytest.raises(ValueError, match=r"time offset 12000 ms is past the end \(4.0 s\)"):
        snapshots(source, tmp_path / "late", [1000, 12000])
    assert not (tmp_path / "late").exists()  # checked before anything is written


def test_snapshot_in_a_gap_of_a_variable_frame_rate_source(media: Path, tmp_path: Path) -> None:
    vfr = make_source(media / "gap.mp4", 2.0, width=320, height=240, audio=False,
                      drop=range(31, 45))
    [image] = snapshots(vfr, tmp_path, [1100])
    with av.open(str(tmp_path / image.path)) as c:
        assert frame_index(next(c.decode(video=0)).to_ndarray(format="gray")) == 45


def test_cover(source: Path, media: Path, tmp_path: Path) -> None:
    image = cover(source, tmp_path, width=640)
    assert image is not None and image.path == Path("cover.jpg")
    assert (image.time_offset_ms, image.width, image.height) == (1000, 640, 360)
    with av.open(str(tmp_path / "cover.jpg")) as c:
        assert frame_index(next(c.decode(video=0)).to_ndarray(format="gray")) == 30
    short = make_source(media / "short.mp4", 1.0, width=320, height=240, audio=False)
    image = cover(short, tmp_path / "short")
    assert image is not None and image.time_offset_ms == 500
    audio = make_source(media / "cover-audio.mp4", 1.0, video=False)
    assert cover(audio, tmp_path / "audio") is None
    assert not (tmp_path / "audio" / "cover.jpg").exists()


def _png(path: Path, width: int, height: int) -> Path:
    """A checkerboard logo (8 px squares), opaque, with a half-transparent bottom row."""
    rgba = np.zeros((height, width, 4), np.uint8)
    squares = (np.add.outer(np.arange(height) // 8, np.arange(width) // 8) % 2).astype(bool)
    rgba[squares, :3] = 255
    rgba[..., 3] = 255
    rgba[-8:, :, 3] = 128
    encoder = av.CodecContext.create("png", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "rgba"
    encoder.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
    path.write_bytes(b"".join(bytes(p) for p in [*encoder.encode(frame),
                                                  *encoder.encode(None)]))
    return path


def test_watermark_marks_the_corner_and_copies_the_audio(
        source: Path, media: Path, tmp_path: Path) -> None:
    png = _png(tmp_path / "logo.png", 200, 100)
    assert check_png(png) == (200, 100)
    calls: list[float] = []
    result = watermark(source, png, tmp_path / "out" / "f1.mp4", position="top-right",
                       progress=calls.append)
    assert (result.x, result.y, result.width, result.height) == (1280 - 16 - 200, 16, 200, 100)
    out = result.output
    assert (out.definition, out.container, out.path) == (1, "mp4", Path("f1.mp4"))
    assert (out.width, out.height) == (1280, 720) and abs(out.duration - duration(source)) < 0.2
    assert calls[-1] == 1.0

    inside = np.zeros((720, 1280), bool)
    inside[result.y:result.y + result.height, result.x:result.x + result.width] = True
    with av.open(str(source)) as a, av.open(str(tmp_path / "out" / "f1.mp4")) as b:
        pairs = list(zip(a.decode(video=0), b.decode(video=0), strict=True))
        assert len(pairs) == 120
        for src, dst in pairs:
            assert dst.pts * dst.time_base == src.pts * src.time_base
            diff = np.abs(src.to_ndarray(format="yuv420p")[:720].astype(np.int16)
                          - dst.to_ndarray(format="yuv420p")[:720])
            assert diff[~inside].mean() < 2.0
            assert diff[inside].mean() > 30
    with av.open(str(source)) as a, av.open(str(tmp_path / "out" / "f1.mp4")) as b:
        assert [bytes(p) for p in a.demux(audio=0) if p.size] == \
            [bytes(p) for p in b.demux(audio=0) if p.size]

    # too wide: scaled down to a quarter of the width, aspect kept, other corner
    wide = _png(tmp_path / "wide.png", 640, 64)
    result = watermark(source, wide, tmp_path / "out" / "f1b.mp4", position="bottom-left",
                       margin=10)
    assert (result.x, result.y, result.width, result.height) == (10, 720 - 10 - 32, 320, 32)


def test_watermark_refuses_bad_input(source: Path, media: Path, tmp_path: Path) -> None:
    assert POSITIONS == ("top-left", "top-right", "bottom-left", "bottom-right")
    text = tmp_path / "logo.png"
    text.write_text("not a png")
    with pytest.raises(ValueError, match="not a PNG"):
        check_png(text)
    jpeg = snapshots(source, tmp_path, [0])[0]
    renamed = tmp_path / "jpeg.png"
    renamed.write_bytes((tmp_path / jpeg.path).read_bytes())
    with pytest.raises(ValueError, match="not a PNG"):
        check_png(renamed)
    png = _png(tmp_path / "ok.png", 32, 32)
    audio = make_source(media / "wm-audio.mp4", 1.0, video=False)
    with pytest.raises(ValueError, match="watermark needs video"):
        watermark(audio, png, tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="position"):
        watermark(source, png, tmp_path / "y.mp4", position="middle")
