"""A library file as the SDK's ``MediaInfo`` model reads it.

Only keys the SDK's models know are written: an unknown key inside a nested model makes the
SDK warn (``X fileds are useless``), and test suites that turn warnings into errors fail on
it. Values livetape does not know (an MD5, a frame rate) are left out, which the SDK reads as
``None``. Times are ISO 8601 in UTC with a ``Z``; sizes bytes, bitrates bits per second,
durations seconds (float), snapshot offsets milliseconds, as the original answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from livetape.library.views import FileView, PlayItem
from livetape.tencent.dialect_errors import INVALID_PARAMETER_VALUE, DialectError

NEVER = "9999-12-31T23:59:59Z"  # the original's ExpireTime of a file that never expires
SNAPSHOT_DEFINITION = 10  # the original's preset snapshot template: JPEG, source size
# Filters livetape fills; the others are valid names whose parts livetape never has
FILLED = ("basicInfo", "metaData", "transcodeInfo", "snapshotByTimeOffsetInfo")
KNOWN = (*FILLED, "animatedGraphicsInfo", "sampleSnapshotInfo", "imageSpriteInfo",
         "keyFrameDescInfo", "adaptiveDynamicStreamingInfo", "miniProgramReviewInfo",
         "subtitleInfo", "reviewInfo", "mpsAiMediaInfo")
_CONTAINERS = {"hls": "hls"}


def iso_z(value: str | datetime | None) -> str:
    """An ISO 8601 UTC time as the original writes it: ``2026-11-28T10:00:00Z``."""
    if value is None:
        return ""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def filters(given: list[str] | None) -> set[str]:
    """The parts a MediaInfo carries: those asked for (by the original's names), or all."""
    if given is None or not given:
        return set(FILLED)
    unknown = [name for name in given if name not in KNOWN]
    if unknown:
        raise DialectError(f"{INVALID_PARAMETER_VALUE}.Filters",
                           f"unknown filters {unknown}; known: {list(KNOWN)}")
    return set(given)


def _category(view: FileView) -> str:
    return "Video" if view.video_codec else "Audio"


def _basic(view: FileView, class_names: dict[int, str], region: str,
           app_id: str) -> dict[str, Any]:
    original = next((p for p in view.play_set if p.definition == 0), None)
    trtc: dict[str, Any] = {"RoomId": view.room_id or "",
                            "UserIds": [view.user_id] if view.user_id else []}
    if app_id.isdigit():
        trtc["SdkAppId"] = int(app_id)
    if view.recording_id:
        trtc["TaskId"] = view.recording_id
    basic: dict[str, Any] = {
        "Name": view.file_name, "Description": view.description,
        "CreateTime": iso_z(view.create_time), "UpdateTime": iso_z(view.create_time),
        "ExpireTime": NEVER if view.expire_time == -1 else iso_z(str(view.expire_time)),
        "ClassId": view.class_id, "CoverUrl": view.image_url, "Type": "mp4",
        "MediaUrl": original.url if original else "",
        "SourceInfo": {"SourceType": "TrtcRecord", "SourceContext": "",
                       "TrtcRecordInfo": trtc},
        "StorageRegion": region, "TagSet": list(view.tags), "Category": _category(view),
        "Status": "Normal", "StorageClass": "STANDARD",
    }
    if view.class_id in class_names:
        basic["ClassName"] = class_names[view.class_id]
    return basic


def _streams(view: FileView, width: int, height: int, bitrate: int) -> dict[str, Any]:
    streams: dict[str, Any] = {"VideoStreamSet": [], "AudioStreamSet": []}
    if view.video_codec:
        streams["VideoStreamSet"].append({"Bitrate": bitrate, "Height": height,
                                          "Width": width, "Codec": view.video_codec})
    if view.audio_codec:
        streams["AudioStreamSet"].append({"Codec": view.audio_codec})
    return streams


def _meta(view: FileView) -> dict[str, Any]:
    video_bitrate = next((p.vbitrate for p in view.play_set if p.definition == 0), 0)
    return {"Size": view.size, "Container": "mp4", "Bitrate": view.bitrate,
            "Height": view.height, "Width": view.width, "Duration": view.duration, "Rotate": 0,
            "VideoDuration": view.duration if view.video_codec else 0.0,
            "AudioDuration": view.duration if view.audio_codec else 0.0,
            **_streams(view, view.width, view.height, video_bitrate)}


def transcode_item(view: FileView, item: PlayItem) -> dict[str, Any]:
    """One playable version (the original is definition 0) as ``MediaTranscodeItem``."""
    original = item.definition == 0
    return {"Url": item.url, "Definition": item.definition, "Bitrate": item.vbitrate,
            "Height": item.vheight, "Width": item.vwidth,
            "Size": view.size if original else item.size or 0,
            "Duration": view.duration if original else item.duration or 0.0,
            "Container": _CONTAINERS.get(item.container or "mp4", "mp4"),
            **_streams(view, item.vwidth, item.vheight, item.vbitrate)}


def snapshot_items(view: FileView, offsets: set[int] | None = None) -> list[dict[str, Any]]:
    """The file's snapshots (those at ``offsets`` ms, when given) under the one template."""
    pictures = [{"TimeOffset": float(s.time_offset_ms), "Url": s.url}
                for s in view.snapshots if offsets is None or s.time_offset_ms in offsets]
    return [{"Definition": SNAPSHOT_DEFINITION, "PicInfoSet": pictures}] if pictures else []


def media_info(view: FileView, parts: set[str], class_names: dict[int, str], region: str,
               app_id: str) -> dict[str, Any]:
    """``MediaInfo`` with the parts asked for."""
    info: dict[str, Any] = {"FileId": view.file_id}
    if "basicInfo" in parts:
        info["BasicInfo"] = _basic(view, class_names, region, app_id)
    if "metaData" in parts:
        info["MetaData"] = _meta(view)
    if "transcodeInfo" in parts:
        info["TranscodeInfo"] = {"TranscodeSet": [transcode_item(view, p)
                                                  for p in view.play_set]}
    if "snapshotByTimeOffsetInfo" in parts:
        info["SnapshotByTimeOffsetInfo"] = {"SnapshotByTimeOffsetSet": snapshot_items(view)}
    return info
