"""VOD transcoding cost: livetape's ``transcode()`` next to Debian's ffmpeg CLI, same settings.

One source (generated once with /usr/bin/ffmpeg and cached: 1920x1080@30 H.264 like a
WebRTC recording, no B-frames, with moving test pattern plus noise so x264 has real work,
and 48 kHz stereo Opus) is transcoded to the MP4 ladder 10/20/30 (360p 800k, 720p 2500k,
1080p 5000k video; AAC 96k/128k/128k) twice in the same run:

- livetape: ``livetape.processing.transcode`` in a forked child process;
- ffmpeg: one ``/usr/bin/ffmpeg`` process, one decode, ``split`` into three bicubic
  scales (the 1080p rung unscaled, as livetape does), libx264 at the same preset,
  bitrate, VBV cap (maxrate 1.5x, bufsize 2x), GOP (keyint = 4 s of frames, scene cut
  off, key frames forced every 4 s) and ``-fps_mode passthrough``; AAC at the same
  bitrates; faststart.

Both are measured the same way: wall time, and user+system CPU of the child from
``getrusage(RUSAGE_CHILDREN)`` (all its threads). Columns: wall s, CPU s, realtime factor
(media seconds per wall second), CPU-s per media second, the CPU the rest of the host used
meanwhile (``other CPU-s``, from /proc/stat: other load stretches wall times), and the
livetape/ffmpeg ratios. A
second table shows what each wrote (size and measured video bitrate per rendition), to
show the two did the same job.

    .venv/bin/python bench/transcode.py                      # 60 s source, veryfast
    .venv/bin/python bench/transcode.py --seconds 20 --preset ultrafast --runs 2

The report is also written to bench/out/transcode.txt.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av

from livetape.processing import PROFILES, plan, transcode
from livetape.processing.outputs import Output, measure_mp4
from measure import host_jiffies

FFMPEG = "/usr/bin/ffmpeg"
DEFINITIONS = (10, 20, 30)
SEGMENT_SECONDS = 4.0  # transcode()'s default GOP: key frames every 4 s
OUT_FILE = Path(__file__).resolve().parent / "out" / "transcode.txt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="source length (60)")
    p.add_argument("--preset", default="veryfast", help="x264 preset for both (veryfast)")
    p.add_argument("--runs", type=int, default=1, help="runs per system, alternating (1)")
    p.add_argument("--work", type=Path, default=Path("/tmp/livetape-bench-transcode"),
                   help="work dir; the source is cached here (/tmp/livetape-bench-transcode)")
    return p.parse_args(argv)


def make_source(work: Path, seconds: float) -> Path:
    """The cached 1080p30 H.264 + Opus source for ``seconds`` (made once with ffmpeg)."""
    path = work / f"source-1080p30-{seconds:g}s.mp4"
    if path.exists():
        return path
    work.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.mp4")
    subprocess.run([
        FFMPEG, "-y", "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds:g}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds:g}",
        "-vf", "noise=alls=10:allf=t", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "60", "-b:v", "8M",
        "-c:a", "libopus", "-ac", "2", "-b:a", "64k", "-shortest", str(tmp)], check=True)
    tmp.rename(path)
    return path


def ffmpeg_command(source: Path, out: Path, preset: str) -> list[str]:
    """The CLI doing what ``transcode(source, out, [10, 20, 30])`` does."""
    with av.open(str(source)) as c:
        vs = c.streams.video[0]
        width, height = vs.codec_context.width, vs.codec_context.height
        fps = vs.average_rate or 30
    targets = plan(DEFINITIONS, width, height)
    chains = [f"[0:v]split={len(targets)}" + "".join(f"[s{i}]" for i in range(len(targets)))]
    for i, t in enumerate(targets):
        scale = "null" if (t.width, t.height) == (width, height) else \
            f"scale={t.width}:{t.height}:flags=bicubic"
        chains.append(f"[s{i}]{scale}[v{i}]")
    keyint = round(fps * SEGMENT_SECONDS)
    cmd = [FFMPEG, "-y", "-hide_banner", "-loglevel", "error", "-nostats", "-i", str(source),
           "-filter_complex", ";".join(chains)]
    for i, t in enumerate(targets):
        rate = t.profile.video_bitrate
        cmd += ["-map", f"[v{i}]", "-map", "0:a?", "-fps_mode", "passthrough",
                "-c:v", "libx264", "-preset", preset, "-b:v", str(rate),
                "-maxrate", str(rate * 3 // 2), "-bufsize", str(rate * 2),
                "-x264-params", f"keyint={keyint}:scenecut=0",
                "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS:g})",
                "-c:a", "aac", "-b:a", str(t.profile.audio_bitrate), "-ar", "48000",
                "-movflags", "+faststart", str(out / f"f{t.profile.definition}.mp4")]
    return cmd


@dataclass
class Run:
    """One system's run: wall and CPU seconds of its child process, and the CPU seconds
    the rest of the host used meanwhile (other load skews the wall times)."""

    system: str
    wall: float
    cpu: float
    other: float


class _Meter:
    """Wall time, children's CPU and host CPU from construction to ``stop``."""

    def __init__(self) -> None:
        self.cpu0, self.host0, self.t0 = _children_cpu(), host_jiffies()[0], time.monotonic()

    def stop(self, system: str) -> Run:
        cpu = _children_cpu() - self.cpu0
        host = (host_jiffies()[0] - self.host0) / os.sysconf("SC_CLK_TCK")
        return Run(system, time.monotonic() - self.t0, cpu, max(0.0, host - cpu))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _livetape_child(source: str, out: str, preset: str) -> None:
    transcode(Path(source), Path(out), DEFINITIONS, preset=preset)


def run_livetape(source: Path, out: Path, preset: str) -> Run:
    """transcode() in a forked child (so its CPU is measured like ffmpeg's)."""
    meter = _Meter()
    child = multiprocessing.get_context("fork").Process(
        target=_livetape_child, args=(str(source), str(out), preset))
    child.start()
    child.join()
    run = meter.stop("livetape transcode()")
    if child.exitcode != 0:
        raise RuntimeError(f"livetape transcode failed (exit code {child.exitcode})")
    return run


def run_ffmpeg(source: Path, out: Path, preset: str) -> Run:
    cmd = ffmpeg_command(source, out, preset)
    meter = _Meter()
    subprocess.run(cmd, check=True)
    return meter.stop("ffmpeg CLI (Debian)")


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _outputs(out: Path) -> list[Output]:
    return [measure_mp4(out, Path(f"f{d}.mp4"), d) for d in DEFINITIONS]


def report(args: argparse.Namespace, source: Path, media_seconds: float, runs: list[Run],
           outputs: dict[str, list[Output]], ffmpeg_cmd: list[str]) -> str:
    """Header, the cost table, the ratios and the outputs table."""
    cpu_name = next((line.split(":", 1)[1].strip() for line in
                     Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.processor())
    ffmpeg_version = subprocess.run([FFMPEG, "-version"], capture_output=True, text=True,
                                    check=True).stdout.split("\n", 1)[0]
    lines = [
        f"transcode  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.cpu_count()} cores ({cpu_name}), "
        f"Python {platform.python_version()}, PyAV {av.__version__} (FFmpeg "
        f"{av.ffmpeg_version_info}), Debian {ffmpeg_version.split(' Copyright')[0]}",
        f"source: {source.name}, {media_seconds:.1f} s; ladder "
        + ", ".join(f"{d}={PROFILES[d].height}p {PROFILES[d].video_bitrate // 1000}k"
                    for d in DEFINITIONS) + f"; preset {args.preset}",
        "command: " + shlex.join([Path(sys.executable).name, *sys.argv]),
        "",
        f"{'system':<22} {'wall s':>8} {'CPU s':>8} {'x realtime':>10} {'CPU-s/s':>8} "
        f"{'other CPU-s':>11}",
    ]
    for r in runs:
        lines.append(f"{r.system:<22} {r.wall:>8.1f} {r.cpu:>8.1f} "
                     f"{media_seconds / r.wall:>10.2f} {r.cpu / media_seconds:>8.2f} "
                     f"{r.other:>11.1f}")
    mean = {s: (sum(r.wall for r in runs if r.system == s) / args.runs,
                sum(r.cpu for r in runs if r.system == s) / args.runs)
            for s in dict.fromkeys(r.system for r in runs)}
    (lw, lc), (fw, fc) = mean["livetape transcode()"], mean["ffmpeg CLI (Debian)"]
    lines += ["", f"livetape / ffmpeg: wall {lw / fw:.2f}x, CPU {lc / fc:.2f}x"
              + (f" (means of {args.runs} runs)" if args.runs > 1 else ""), "",
              f"{'rendition':<14} {'livetape MB':>12} {'video kbit/s':>13} "
              f"{'ffmpeg MB':>10} {'video kbit/s':>13}"]
    for lt, ff in zip(outputs["livetape"], outputs["ffmpeg"], strict=True):
        name = f"{lt.definition} {lt.width}x{lt.height}"
        lines.append(f"{name:<14} {lt.size / 1e6:>12.2f} {lt.video_bitrate / 1000:>13.0f} "
                     f"{ff.size / 1e6:>10.2f} {ff.video_bitrate / 1000:>13.0f}")
    lines += ["", "ffmpeg command: " + shlex.join(ffmpeg_cmd)]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Entry point."""
    args = parse_args()
    t = time.monotonic()
    source = make_source(args.work, args.seconds)
    print(f"source {source} ready ({time.monotonic() - t:.0f} s)", file=sys.stderr)
    with av.open(str(source)) as c:
        media_seconds = (c.duration or 0) / av.time_base
    runs: list[Run] = []
    outs = {"livetape": args.work / "livetape", "ffmpeg": args.work / "ffmpeg"}
    for i in range(args.runs):
        for name, fn in (("ffmpeg", run_ffmpeg), ("livetape", run_livetape)):
            print(f"-- {name} run {i + 1}/{args.runs} ...", file=sys.stderr, flush=True)
            run = fn(source, _fresh(outs[name]), args.preset)
            print(f"   {run.wall:.1f} s wall, {run.cpu:.1f} CPU-s", file=sys.stderr)
            runs.append(run)
    text = report(args, source, media_seconds, runs,
                  {name: _outputs(path) for name, path in outs.items()},
                  ffmpeg_command(source, outs["ffmpeg"], args.preset))
    print(text)
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
