"""The rendition ladder: which definitions exist, what each one encodes to, and how a
source's size maps onto them.

A *definition* is the numeric id a client asks for (the VOD API's ``Definition``): 10, 20
and 30 are progressive MP4 files, 210, 220 and 230 the same three rungs as HLS. The two
families share their numbers' last digit on purpose: 10 and 210 encode identically, so a
job that asks for both encodes once and muxes the packets twice (see ``transcode.py``).

Sizes are *capped at the source*: a 720p recording asked for 1080p gets 720p (at the
1080p rung's bitrate), never an upscale. Width follows the source's aspect ratio, rounded
to an even number because 4:2:0 chroma halves both dimensions. The bitrates are the
usual ones for 30 fps talking-head and screen content (YouTube and Apple's HLS authoring
spec recommend about 0.8, 2.5 and 5 Mbit/s for 360p, 720p and 1080p).

The table is a read-only mapping (``MappingProxyType``): nothing at module level can be
changed at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

logger = logging.getLogger(__name__)

__all__ = [
    "HLS_DEFINITIONS",
    "MP4_DEFINITIONS",
    "PROFILES",
    "WATERMARK_DEFINITION",
    "Profile",
    "Target",
    "plan",
]

MP4_DEFINITIONS = (10, 20, 30)
HLS_DEFINITIONS = (210, 220, 230)
WATERMARK_DEFINITION = 1


@dataclass(frozen=True)
class Profile:
    """One rung of the ladder: container, nominal height and bitrates (bits/s)."""

    definition: int
    container: Literal["mp4", "hls"]
    height: int
    video_bitrate: int
    audio_bitrate: int


def _profiles() -> Mapping[int, Profile]:
    rungs = ((360, 800_000, 96_000), (720, 2_500_000, 128_000), (1080, 5_000_000, 128_000))
    table: dict[int, Profile] = {}
    for mp4, hls, (height, video, audio) in zip(MP4_DEFINITIONS, HLS_DEFINITIONS, rungs,
                                                strict=True):
        table[mp4] = Profile(mp4, "mp4", height, video, audio)
        table[hls] = Profile(hls, "hls", height, video, audio)
    return MappingProxyType(table)


PROFILES: Mapping[int, Profile] = _profiles()


@dataclass(frozen=True)
class Target:
    """A profile resolved against one source: the picture size to encode (0x0: audio only)."""

    profile: Profile
    width: int
    height: int

    @property
    def video_key(self) -> tuple[int, int, int]:
        """Targets with equal keys can share one video encoder: size and bitrate."""
        return (self.width, self.height, self.profile.video_bitrate)


def _even(value: float) -> int:
    """``value`` rounded to the nearest even integer, at least 2."""
    return max(2, 2 * round(value / 2))


def target_size(profile: Profile, src_width: int, src_height: int) -> tuple[int, int]:
    """The picture size ``profile`` gives for a source: height capped at the source's (and
    made even, rounding down), width keeping the aspect ratio (even). 0x0 for no video."""
    if src_width <= 0 or src_height <= 0:
        return (0, 0)
    height = max(2, min(profile.height, src_height) // 2 * 2)
    if height == src_height and src_width % 2 == 0:
        return (src_width, height)  # the source's own size: no scaling at all
    return (_even(src_width * height / src_height), height)


def plan(definitions: Iterable[int], src_width: int, src_height: int) -> list[Target]:
    """One Target per distinct definition, in the order given.

    Raises ValueError for a definition not in ``PROFILES`` (the message lists the valid
    ones) or a negative source size. A 0x0 source (audio only) gives 0x0 targets.
    """
    if src_width < 0 or src_height < 0:
        raise ValueError(f"bad source size {src_width}x{src_height}")
    targets: list[Target] = []
    seen: set[int] = set()
    for definition in definitions:
        profile = PROFILES.get(definition)
        if profile is None:
            valid = ", ".join(str(d) for d in sorted(PROFILES))
            raise ValueError(f"unknown definition {definition!r}; valid definitions: {valid}")
        if definition in seen:
            continue
        seen.add(definition)
        width, height = target_size(profile, src_width, src_height)
        targets.append(Target(profile, width, height))
    logger.debug("plan for %dx%d: %s", src_width, src_height,
                 ", ".join(f"{t.profile.definition}={t.width}x{t.height}" for t in targets))
    return targets
