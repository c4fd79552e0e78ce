"""The official Tencent Cloud VOD SDK (``tencentcloud-sdk-python-vod``, unmodified) against a
live livetape server with recorded and processed files: every action of the dialect, checked
on the SDK's parsed model objects, with play URLs fetched and decoded; UserWarnings are errors
(an unknown key in a nested model makes the SDK warn)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import av
import httpx
import pytest
from tencentcloud.common import credential
from tencentcloud.common.abstract_client import RequestInternal
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of
from livetape_harness.server import LiveServer, ServerFactory
from tests.jobs.test_processing_jobs import make_png

pytestmark = pytest.mark.filterwarnings("error::UserWarning")


class Recorded:
    """A server with two recorded files: ``lesson-a`` and ``lesson-b``."""

    def __init__(self, server: LiveServer, file_ids: list[str]) -> None:
        self.server, self.file_ids = server, file_ids

    def client(self, *, key: str | None = None, secret_id: str | None = None,
               method: str = "POST") -> vod_client.VodClient:
        profile = HttpProfile(endpoint=f"127.0.0.1:{self.server.port}", protocol="http",
                              reqMethod=method)
        cred = credential.Credential(secret_id or self.server.app_id,
                                     key or self.server.secret_key)
        return vod_client.VodClient(cred, "ap-guangzhou", ClientProfile(httpProfile=profile))


def request(model: type[Any], **fields: Any) -> Any:
    built = model()
    built.from_json_string(json.dumps(fields))
    return built


def refused(call: Callable[[], Any]) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as caught:
        call()
    assert caught.value.get_request_id(), caught.value  # every error names its request
    return caught.value


async def _record(server: LiveServer) -> list[str]:
    async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
        ids = []
        for name in ("lesson-a", "lesson-b"):
            (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.5), name)
            ids.append(file_id)
    return ids


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", "127.0.0.1")
        server = LiveServer(tmp_path_factory.mktemp("tencent"), None,
                            {"LIVETAPE_IDLE_TIMEOUT_SECONDS": "5"}).start()
        try:
            yield Recorded(server, asyncio.run(_record(server)))
        finally:
            server.stop()


def decoded(url: str) -> tuple[float, int, tuple[int, int]]:
    """Fetch a play URL and decode it: duration, video frames, picture size."""
    answer = httpx.get(url, timeout=60)
    assert answer.status_code == 200, (url, answer.status_code)
    with av.open(io.BytesIO(answer.content)) as container:
        frames = [f for f in container.decode(video=0)]
        duration = container.duration / av.time_base if container.duration else 0.0
    return duration, len(frames), (frames[0].width, frames[0].height)


def test_search_and_describe(recorded: Recorded) -> None:
    client = recorded.client()
    found = client.SearchMedia(request(models.SearchMediaRequest, NamePrefixes=["lesson"],
                                       Sort={"Field": "CreateTime", "Order": "Asc"}))
    assert found.TotalCount == 2 and found.RequestId
    first, second = found.MediaInfoSet
    assert [first.FileId, second.FileId] == recorded.file_ids
    basic, meta = first.BasicInfo, first.MetaData
    assert (basic.Name, basic.Category, basic.Status, basic.ClassId) == (
        "lesson-a", "Video", "Normal", 0)
    assert basic.ExpireTime == "9999-12-31T23:59:59Z" and basic.CreateTime.endswith("Z")
    assert basic.StorageRegion == "ap-guangzhou" and basic.CoverUrl.startswith("http")
    assert basic.SourceInfo.SourceType == "TrtcRecord"
    assert basic.SourceInfo.TrtcRecordInfo.RoomId == "room-1"
    assert basic.SourceInfo.TrtcRecordInfo.UserIds == ["alice"]
    assert (meta.Width, meta.Height) == (640, 360) and 3.0 < meta.Duration < 4.5
    assert meta.VideoStreamSet[0].Codec == "h264" and meta.AudioStreamSet[0].Codec
    (original,) = first.TranscodeInfo.TranscodeSet
    assert original.Definition == 0 and original.Url == basic.MediaUrl
    duration, frames, size = decoded(original.Url)
    assert size == (640, 360) and frames > 80 and abs(duration - meta.Duration) < 0.3

    newest = client.SearchMedia(request(models.SearchMediaRequest, Names=["lesson-b"],
                                        Filters=["basicInfo"], Limit=1))
    assert newest.TotalCount == 1 and newest.MediaInfoSet[0].FileId == recorded.file_ids[1]
    assert newest.MediaInfoSet[0].MetaData is None  # only the parts asked for
    paged = client.SearchMedia(request(models.SearchMediaRequest, Offset=1, Limit=1))
    assert paged.TotalCount == 2 and paged.MediaInfoSet[0].FileId == recorded.file_ids[0]
    window = client.SearchMedia(request(models.SearchMediaRequest, CreateTime={
        "After": "2000-01-01T00:00:00Z", "Before": "2001-01-01T00:00:00Z"}))
    assert window.TotalCount == 0 and window.MediaInfoSet == []

    infos = client.DescribeMediaInfos(request(models.DescribeMediaInfosRequest,
                                              FileIds=[recorded.file_ids[1], "424242"],
                                              Filters=["metaData"]))
    assert [i.FileId for i in infos.MediaInfoSet] == [recorded.file_ids[1]]
    assert infos.NotExistFileIdSet == ["424242"] and infos.MediaInfoSet[0].BasicInfo is None
    # the same call as a GET (the SDK flattens the parameters into the query)
    got = recorded.client(method="GET").SearchMedia(request(
        models.SearchMediaRequest, Names=["lesson-a", "nope"], Filters=["basicInfo"]))
    assert [i.BasicInfo.Name for i in got.MediaInfoSet] == ["lesson-a"]

    bad = refused(lambda: client.SearchMedia(request(models.SearchMediaRequest, Limit=0)))
    assert bad.get_code() == "InvalidParameterValue.Limit"
    bad = refused(lambda: client.SearchMedia(request(models.SearchMediaRequest,
                                                     Categories=["Audio"])))
    assert bad.get_code() == "UnknownParameter" and "Categories" in bad.get_message()
    bad = refused(lambda: client.DescribeMediaInfos(request(
        models.DescribeMediaInfosRequest, FileIds=recorded.file_ids, Filters=["everything"])))
    assert bad.get_code() == "InvalidParameterValue.Filters"
    own = client.SearchMedia(request(models.SearchMediaRequest, SubAppId=int(
        recorded.server.app_id), Limit=1))
    assert own.TotalCount == 2
    other = refused(lambda: client.SearchMedia(request(models.SearchMediaRequest,
                                                       SubAppId=1500000001)))
    assert other.get_code() == "InvalidParameterValue.SubAppId"


def test_modify_files_and_classes(recorded: Recorded) -> None:
    client = recorded.client()
    file_id = recorded.file_ids[1]
    courses = client.CreateClass(request(models.CreateClassRequest, ParentId=-1,
                                         ClassName="courses")).ClassId
    math = client.CreateClass(request(models.CreateClassRequest, ParentId=courses,
                                      ClassName="math")).ClassId
    twice = refused(lambda: client.CreateClass(request(models.CreateClassRequest,
                                                       ParentId=courses, ClassName="math")))
    assert twice.get_code() == "FailedOperation.ClassNameDuplicate"
    tree = client.DescribeAllClass(models.DescribeAllClassRequest()).ClassInfoSet
    assert [(c.ClassId, c.ParentId, c.ClassName, c.Level, c.SubClassIdSet) for c in tree] == [
        (courses, -1, "courses", 1, [math]), (math, courses, "math", 2, [])]

    client.ModifyMediaInfo(request(models.ModifyMediaInfoRequest, FileId=file_id,
                                   Name="renamed", Description="week 1", ClassId=math,
                                   ExpireTime="2099-01-01T00:00:00Z", AddTags=["a", "b"]))
    client.ModifyMediaInfo(request(models.ModifyMediaInfoRequest, FileId=file_id,
                                   DeleteTags=["a"], AddTags=["c"]))
    (info,) = client.DescribeMediaInfos(request(models.DescribeMediaInfosRequest,
                                                FileIds=[file_id])).MediaInfoSet
    basic = info.BasicInfo
    assert (basic.Name, basic.Description, basic.ClassId, basic.ClassName) == (
        "renamed", "week 1", math, "math")
    assert basic.TagSet == ["b", "c"] and basic.ExpireTime == "2099-01-01T00:00:00Z"
    by_class = client.SearchMedia(request(models.SearchMediaRequest, ClassIds=[math],
                                          Tags=["c", "zzz"]))
    assert [i.FileId for i in by_class.MediaInfoSet] == [file_id]

    full = refused(lambda: client.DeleteClass(request(models.DeleteClassRequest,
                                                      ClassId=courses)))
    assert full.get_code() == "FailedOperation.ClassNotEmpty"
    client.ModifyClass(request(models.ModifyClassRequest, ClassId=math, ClassName="algebra"))
    client.ModifyMediaInfo(request(models.ModifyMediaInfoRequest, FileId=file_id,
                                   Name="lesson-b", ClassId=0, ClearTags=1,
                                   ExpireTime="9999-12-31T23:59:59Z"))
    client.DeleteClass(request(models.DeleteClassRequest, ClassId=math))
    client.DeleteClass(request(models.DeleteClassRequest, ClassId=courses))
    assert client.DescribeAllClass(models.DescribeAllClassRequest()).ClassInfoSet == []
    (info,) = client.DescribeMediaInfos(request(models.DescribeMediaInfosRequest,
                                                FileIds=[file_id])).MediaInfoSet
    assert (info.BasicInfo.TagSet, info.BasicInfo.ExpireTime, info.BasicInfo.ClassId) == (
        [], "9999-12-31T23:59:59Z", 0)

    for fields, code in (
        ({"FileId": "424242", "Name": "x"}, "ResourceNotFound.FileNotExist"),
        ({"FileId": file_id, "Name": "a/b"}, "InvalidParameterValue.Name"),
        ({"FileId": file_id, "ClassId": 424242}, "ResourceNotFound.ClassNotExist"),
        ({"FileId": file_id, "ExpireTime": "tomorrow"}, "InvalidParameterValue.ExpireTime"),
    ):
        error = refused(lambda f=fields: client.ModifyMediaInfo(  # type: ignore[misc]
            request(models.ModifyMediaInfoRequest, **f)))
        assert error.get_code() == code, (fields, error)
    gone = refused(lambda: client.ModifyClass(request(models.ModifyClassRequest,
                                                      ClassId=math, ClassName="x")))
    assert gone.get_code() == "ResourceNotFound.ClassNotExist"


def _finished(client: vod_client.VodClient, task_id: str) -> Any:
    deadline = time.monotonic() + 150
    while True:
        detail = client.DescribeTaskDetail(request(models.DescribeTaskDetailRequest,
                                                   TaskId=task_id))
        if detail.Status == "FINISH" or time.monotonic() > deadline:
            return detail
        time.sleep(0.5)


def test_process_media_and_task_detail(recorded: Recorded) -> None:
    client, file_id = recorded.client(), recorded.file_ids[0]
    no_mark = refused(lambda: client.ProcessMedia(request(
        models.ProcessMediaRequest, FileId=file_id, MediaProcessTask={
            "TranscodeTaskSet": [{"Definition": 10, "WatermarkSet": [{"Definition": 1}]}]})))
    assert no_mark.get_code() == "InvalidParameterValue" and "watermark" in no_mark.get_message()
    put = httpx.put(f"{recorded.server.url}/v1/vod/watermark", content=make_png(64, 32),
                    headers={"Authorization": f"Bearer {recorded.server.secret_key}"})
    assert put.status_code == 200, put.text

    task = client.ProcessMedia(request(
        models.ProcessMediaRequest, FileId=file_id, SessionContext="mine", MediaProcessTask={
            "TranscodeTaskSet": [{"Definition": 100010, "WatermarkSet": [{"Definition": 7}]}],
            "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1000, 2000]}],
        }))
    detail = _finished(client, task.TaskId)
    assert (detail.TaskType, detail.Status) == ("Procedure", "FINISH"), detail
    procedure = detail.ProcedureTask
    assert (procedure.FileId, procedure.FileName, procedure.Status) == (
        file_id, "lesson-a", "FINISH")
    assert detail.CreateTime.endswith("Z") and detail.FinishTime >= detail.BeginProcessTime
    results = {(r.Type, (r.TranscodeTask or r.SnapshotByTimeOffsetTask).Input.Definition): r
               for r in procedure.MediaProcessResultSet}
    assert set(results) == {("Transcode", 10), ("Transcode", 1), ("SnapshotByTimeOffset", 10)}
    rendition = results["Transcode", 10].TranscodeTask
    assert (rendition.Status, rendition.ErrCode, rendition.Progress) == ("SUCCESS", 0, 100)
    assert (rendition.Output.Definition, rendition.Output.Height) == (10, 360)
    duration, frames, size = decoded(rendition.Output.Url)
    assert size == (640, 360) and frames > 80 and 3.0 < duration < 4.5
    marked = results["Transcode", 1].TranscodeTask.Output
    assert marked.Definition == 1 and decoded(marked.Url)[2] == (640, 360)
    snaps = results["SnapshotByTimeOffset", 10].SnapshotByTimeOffsetTask
    assert [p.TimeOffset for p in snaps.Output.PicInfoSet] == [1000.0, 2000.0]
    picture = httpx.get(snaps.Output.PicInfoSet[0].Url, timeout=30)
    with av.open(io.BytesIO(picture.content)) as image:
        assert next(image.decode(video=0)).width == 640

    (info,) = client.DescribeMediaInfos(request(models.DescribeMediaInfosRequest,
                                                FileIds=[file_id])).MediaInfoSet
    assert [t.Definition for t in info.TranscodeInfo.TranscodeSet] == [0, 1, 10]
    (shots,) = info.SnapshotByTimeOffsetInfo.SnapshotByTimeOffsetSet
    assert [p.TimeOffset for p in shots.PicInfoSet] == [1000.0, 2000.0]

    for task_set, code in (
        ({"TranscodeTaskSet": [{"Definition": 40}]}, "InvalidParameterValue.Definition"),
        ({"SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [99000]}]},
         "InvalidParameterValue"),
        ({}, "InvalidParameterValue.MediaProcessTask"),
        ({"ImageSpriteTaskSet": [{"Definition": 10}]}, "UnknownParameter"),
    ):
        error = refused(lambda t=task_set: client.ProcessMedia(  # type: ignore[misc]
            request(models.ProcessMediaRequest, FileId=file_id, MediaProcessTask=t)))
        assert error.get_code() == code, (task_set, error)
    missing = refused(lambda: client.DescribeTaskDetail(request(
        models.DescribeTaskDetailRequest, TaskId="job-1-nope")))
    assert missing.get_code() == "ResourceNotFound.TaskNotExist"


def test_storage_data_and_delete(recorded: Recorded) -> None:
    client = recorded.client()
    infos = client.DescribeMediaInfos(request(models.DescribeMediaInfosRequest,
                                              FileIds=recorded.file_ids,
                                              Filters=["metaData", "transcodeInfo"]))
    stored = sum(t.Size for i in infos.MediaInfoSet for t in i.TranscodeInfo.TranscodeSet
                 if t.Container == "mp4")
    data = client.DescribeStorageData(models.DescribeStorageDataRequest())
    assert data.MediaCount == 2 and data.TotalStorage == data.StandardStorage
    assert data.TotalStorage >= stored > 0 and data.ArchiveStorage == 0

    gone = recorded.file_ids[1]
    url = infos.MediaInfoSet[1].TranscodeInfo.TranscodeSet[0].Url
    parts = refused(lambda: client.DeleteMedia(request(
        models.DeleteMediaRequest, FileId=gone,
        DeleteParts=[{"Type": "TranscodeFiles", "Definition": 10}])))
    assert parts.get_code() == "InvalidParameterValue.DeleteParts"
    client.DeleteMedia(request(models.DeleteMediaRequest, FileId=gone))
    after = client.DescribeMediaInfos(request(models.DescribeMediaInfosRequest, FileIds=[gone]))
    assert after.MediaInfoSet == [] and after.NotExistFileIdSet == [gone]
    assert httpx.get(url, timeout=30).status_code == 404
    again = refused(lambda: client.DeleteMedia(request(models.DeleteMediaRequest, FileId=gone)))
    assert again.get_code() == "ResourceNotFound.FileNotExist"
    assert client.DescribeStorageData(models.DescribeStorageDataRequest()).MediaCount == 1
    recorded.file_ids.pop()


def _raw_post(recorded: Recorded, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    answer = httpx.post(f"{recorded.server.url}/", headers=headers, content=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"  # exactly: the SDK checks
    reply: dict[str, Any] = answer.json()["Response"]
    assert reply["RequestId"]
    return reply


def test_signatures(recorded: Recorded) -> None:
    search = request(models.SearchMediaRequest, Limit=1)
    wrong_key = refused(lambda: recorded.client(key="not-the-key").SearchMedia(search))
    assert wrong_key.get_code() == "AuthFailure.SignatureFailure"
    unknown = refused(lambda: recorded.client(secret_id="9999999999").SearchMedia(search))
    assert unknown.get_code() == "AuthFailure.SecretIdNotFound"
    client = recorded.client()
    with mock.patch("tencentcloud.common.abstract_client.time") as clock:
        clock.time.return_value = time.time() - 600
        stale = refused(lambda: client.SearchMedia(search))
    assert stale.get_code() == "AuthFailure.SignatureExpire"
    unsupported = refused(lambda: client.call_json("DescribeEventsState", {}))
    assert unsupported.get_code() == "UnsupportedOperation"
    assert "DescribeEventsState" in str(unsupported)

    # the SDK's own signer, then the body changed after signing
    endpoint = f"127.0.0.1:{recorded.server.port}"
    signed = RequestInternal(endpoint, "POST", "/", header={})
    client._build_req_inter("SearchMedia", {"Limit": 1}, signed)  # signs it in place
    headers = {k: str(v) for k, v in signed.header.items()}
    fine = _raw_post(recorded, headers, signed.data.encode())
    assert fine["TotalCount"] >= 1
    tampered = _raw_post(recorded, headers, b'{"Limit": 2}')
    assert tampered["Error"]["Code"] == "AuthFailure.SignatureFailure"
    moved_host = _raw_post(recorded, {**headers, "Host": "localhost:1"}, signed.data.encode())
    assert moved_host["Error"]["Code"] == "AuthFailure.SignatureFailure"
    # a key rotated away still works through its grace period; the new one too
    rotated = httpx.post(f"{recorded.server.url}/v1/app/keys/rotate",
                         json={"grace_seconds": 600},
                         headers={"Authorization": f"Bearer {recorded.server.secret_key}"})
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["secret_key"]
    assert recorded.client(key=new_key).SearchMedia(search).TotalCount >= 1
    assert recorded.client().SearchMedia(search).TotalCount >= 1


def test_malformed_requests_answer_the_error_shape(recorded: Recorded) -> None:
    """Never a 500, never another status: the SDK reads only HTTP 200 + the error shape."""
    from livetape.tencent.signature import SignedRequest, tc3_signature

    def signed(body: bytes, **extra: str) -> dict[str, str]:
        now = int(time.time())
        headers = {"content-type": "application/json",
                   "host": f"127.0.0.1:{recorded.server.port}",
                   "x-tc-action": "SearchMedia", "x-tc-version": "2018-07-17",
                   "x-tc-timestamp": str(now), **extra}
        date = time.strftime("%Y-%m-%d", time.gmtime(now))
        signature = tc3_signature(recorded.server.secret_key,
                                  SignedRequest("POST", "", headers, body),
                                  ["content-type", "host"], now, date)
        headers["authorization"] = (
            f"TC3-HMAC-SHA256 Credential={recorded.server.app_id}/{date}/vod/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}")
        return headers

    cases: list[tuple[dict[str, str], bytes, str]] = [
        ({}, b"{}", "AuthFailure.InvalidAuthorization"),
        ({"authorization": "TC3-HMAC-SHA256 nonsense"}, b"{}",
         "AuthFailure.InvalidAuthorization"),
        ({**signed(b"{}"), "x-tc-timestamp": "yesterday"}, b"{}",
         "AuthFailure.InvalidAuthorization"),
        (signed(b"not json"), b"not json", "InvalidParameter"),
        (signed(b"[1, 2]"), b"[1, 2]", "InvalidParameter"),
        (signed(b"\xff\xfe"), b"\xff\xfe", "InvalidParameter"),
        (signed(b'{"Names": ["a\\u0000"]}'), b'{"Names": ["a\\u0000"]}',
         "InvalidParameterValue"),
        (signed(b'{"Limit": "many"}'), b'{"Limit": "many"}', "InvalidParameterValue.Limit"),
        (signed(b'{"Offset": 99999999999999999999999}'), b'{"Offset": 99999999999999999999999}',
         "InvalidParameterValue.Offset"),
        (signed(b'{"Sort": {"Field": "Size"}}'), b'{"Sort": {"Field": "Size"}}',
         "InvalidParameterValue.Sort"),
        (signed(b"{}", **{"x-tc-action": ""}), b"{}", "MissingParameter"),
        (signed(b"{}", **{"x-tc-action": "A" * 5000}), b"{}", "UnsupportedOperation"),
        (signed(b"{}", **{"x-tc-version": "2017-01-01"}), b"{}", "NoSuchVersion"),
        (signed(b'{"FileIds": []}', **{"x-tc-action": "DescribeMediaInfos"}),
         b'{"FileIds": []}', "InvalidParameterValue.FileIds"),
        (signed(b'{"FileId": 5}', **{"x-tc-action": "DescribeTaskDetail"}),
         b'{"FileId": 5}', "MissingParameter"),
    ]
    for headers, body, code in cases:
        reply = _raw_post(recorded, headers, body)
        assert reply["Error"]["Code"] == code, (headers, body, reply)
        assert reply["Error"]["Message"]
    assert "Traceback" not in recorded.server.log_text()


def _v2_signature(key: str, method: str, host: str, params: dict[str, str]) -> str:
    """The legacy v2 signature as the original's public documentation describes it (written
    here from the documentation, apart from livetape's implementation)."""
    import base64
    import hashlib
    import hmac

    text = method + host + "/v2/index.php?" + "&".join(
        f"{k}={params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def test_v2_describe_vod_play_info(recorded: Recorded, tmp_path: Path) -> None:
    host = f"127.0.0.1:{recorded.server.port}"
    params = {"Action": "DescribeVodPlayInfo", "fileName": "lesson", "pageNo": "1",
              "pageSize": "10", "Region": "gz", "Timestamp": str(int(time.time())),
              "Nonce": "4711", "SecretId": recorded.server.app_id}
    signature = _v2_signature(recorded.server.secret_key, "GET", host, params)
    answer = httpx.get(f"http://{host}/v2/index.php",
                       params={**params, "Signature": signature}, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    reply = answer.json()
    assert (reply["code"], reply["totalCount"]) == (0, len(recorded.file_ids)), reply
    entry = next(f for f in reply["fileSet"] if f["fileId"] == recorded.file_ids[0])
    assert set(entry) == {"fileId", "fileName", "duration", "status", "imageUrl", "playSet"}
    assert entry["fileName"] == "lesson-a" and 3.0 < entry["duration"] < 4.5
    (info,) = recorded.client().DescribeMediaInfos(request(
        models.DescribeMediaInfosRequest, FileIds=[entry["fileId"]])).MediaInfoSet
    # the same renditions as the v3 API (10 too when the ProcessMedia test ran before here)
    assert {p["definition"] for p in entry["playSet"]} == {
        t.Definition for t in info.TranscodeInfo.TranscodeSet}
    original = next(p for p in entry["playSet"] if p["definition"] == 0)
    assert set(original) == {"url", "definition", "vbitrate", "vheight", "vwidth"}
    assert decoded(original["url"])[2] == (original["vwidth"], original["vheight"])

    wrong = httpx.get(f"http://{host}/v2/index.php",
                      params={**params, "Signature": signature, "fileName": "other"})
    assert wrong.status_code == 200 and wrong.json()["code"] == 4100
    params["pageSize"] = "0"
    bad = httpx.get(f"http://{host}/v2/index.php", params={
        **params, "Signature": _v2_signature(recorded.server.secret_key, "GET", host, params)})
    assert bad.json()["code"] == 4000


def test_the_readme_script_runs_unmodified(recorded: Recorded, tmp_path: Path) -> None:
    """The README's SDK script (Coming from the hosted original) lists, renames, processes,
    describes and deletes a recording, run as it is printed there."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Coming from the hosted original", 1)[1]
    script = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "script.py").write_text(script)
    file_id = recorded.file_ids[0]
    done = subprocess.run(
        [sys.executable, str(tmp_path / "script.py")], capture_output=True, text=True,
        timeout=300, env={**os.environ, "NO_PROXY": "127.0.0.1",
                          "VOD_ENDPOINT": f"127.0.0.1:{recorded.server.port}",
                          "VOD_SECRET_ID": recorded.server.app_id,
                          "VOD_SECRET_KEY": recorded.server.secret_key})
    assert done.returncode == 0, done.stderr[-3000:]
    listed, described = done.stdout.splitlines()
    assert listed.startswith(f"{file_id} lesson-a ")
    assert described.startswith("lesson-renamed ['week-1'] [(0, 360, ")
    assert "(10, 360, " in described  # the rendition ProcessMedia made
    gone = recorded.client().DescribeMediaInfos(request(models.DescribeMediaInfosRequest,
                                                        FileIds=[file_id]))
    assert gone.NotExistFileIdSet == [file_id]


def test_search_filters_on_both_engines(start_server: ServerFactory, backend: str) -> None:
    """SearchMedia's any-of lists (names, prefixes, tags, classes, rooms) and its offset
    paging are SQL each engine runs its own way."""
    server = start_server(backend)

    async def record() -> list[str]:
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            ids = []
            for name, tags in (("north-1", ["x", "y%"]), ("south-1", ["y"])):
                (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(2.5),
                                                    name, tags=tags)
                ids.append(file_id)
        return ids

    north, south = asyncio.run(record())
    client = Recorded(server, [north, south]).client()

    def names(**fields: Any) -> list[str]:
        found = client.SearchMedia(request(models.SearchMediaRequest, Filters=["basicInfo"],
                                           **fields))
        return [i.BasicInfo.Name for i in found.MediaInfoSet]

    assert names(Tags=["y%", "nope"]) == ["north-1"]  # no wildcard in a tag
    assert names(Tags=["x", "y"], Sort={"Field": "CreateTime", "Order": "Asc"}) == [
        "north-1", "south-1"]
    assert names(NamePrefixes=["sou", "nor"], Offset=1, Limit=5) == ["north-1"]
    assert names(NamePrefixes=["n_rth"]) == []  # no wildcard in a prefix
    assert names(Names=["south-1", "north"], TrtcRoomIds=["room-1"], ClassIds=[0]) == [
        "south-1"]
    assert names(TrtcRoomIds=["room-2"]) == []


def test_a_browser_at_the_root_finds_nothing(recorded: Recorded) -> None:
    """GET / without X-TC-Action is livetape's 404, as before the dialect was there."""
    answer = httpx.get(f"{recorded.server.url}/", timeout=30)
    assert (answer.status_code, answer.json()["code"]) == (404, 10008)
