"""PullEvents / ConfirmEvents through the official SDK (unmodified) against a live server:
a recording lands -> NewFileUpload, a ProcessMedia task ends -> ProcedureStateChanged, a
DeleteMedia -> FileDeleted; an event not confirmed within the lease comes back under a new
handle, a stale handle is refused, a confirmed event never comes back. Asserted on the SDK's
parsed models, UserWarnings as errors (a field the models do not know makes the SDK warn)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tencentcloud.vod.v20180717 import models

from livetape.client.api import LivetapeClient
from livetape.client.media import EncodedMedia
from livetape_harness.flow import record_all_of
from livetape_harness.server import LiveServer
from tests.tencent.test_vod_sdk import Recorded, decoded, refused, request

pytestmark = pytest.mark.filterwarnings("error::UserWarning")

LEASE = 3  # LIVETAPE_EVENTS_PULL_LEASE_SECONDS, shrunk


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", "127.0.0.1")
        live = LiveServer(tmp_path_factory.mktemp("tencent-events"), None, {
            "LIVETAPE_IDLE_TIMEOUT_SECONDS": "5", "LIVETAPE_EVENTS_PULL_LEASE_SECONDS": str(LEASE),
            "LIVETAPE_EVENTS_PULL_WAIT_SECONDS": "1"}).start()
        try:
            yield Recorded(live, [])
        finally:
            live.stop()


def _record(server: LiveServer, name: str) -> str:
    async def run() -> str:
        async with LivetapeClient(server.url, secret_key=server.secret_key) as api:
            (file_id,), _ = await record_all_of(server, api, EncodedMedia.synthetic(3.0), name)
            return file_id
    return asyncio.run(run())


def _pull(client: Any) -> list[Any]:
    answer = client.PullEvents(request(models.PullEventsRequest))
    assert answer.RequestId
    return list(answer.EventSet or [])


def _pull_until(client: Any, wanted: Any, timeout: float = 60) -> list[Any]:
    """Pull (confirming nothing) until an event ``wanted(event)`` is among those pulled."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += _pull(client)
        if any(wanted(e) for e in seen):
            return seen
    raise AssertionError(f"no such event within {timeout} s: {[e.EventType for e in seen]}")


def _confirm(client: Any, handles: list[str]) -> None:
    client.ConfirmEvents(request(models.ConfirmEventsRequest, EventHandles=handles))


def test_events_are_pulled_until_confirmed(server: Recorded, tmp_path: Path) -> None:
    client = server.client()
    assert _pull(client) == []  # nothing yet: an empty set after the wait (1 s here)
    file_id = _record(server.server, "evt-a")

    def uploaded(e: Any) -> bool:
        return e.EventType == "NewFileUpload" and e.FileUploadEvent.FileId == file_id

    first = _pull_until(client, uploaded)
    [event] = [e for e in first if uploaded(e)]
    upload = event.FileUploadEvent
    assert upload.MediaBasicInfo.Name == "evt-a" and upload.ProcedureTaskId == ""
    assert 2.5 < upload.MetaData.Duration < 4 and upload.MetaData.Size > 0
    assert (upload.MetaData.Width, upload.MetaData.Height) == (640, 360)
    duration, frames, _ = decoded(upload.MediaBasicInfo.MediaUrl)
    assert frames > 70 and abs(duration - upload.MetaData.Duration) < 0.3

    # not confirmed: held for the lease (no other pull gets it), then handed out again
    assert not any(uploaded(e) for e in _pull(client))
    time.sleep(LEASE)
    again = _pull_until(client, uploaded, timeout=10)
    [repeat] = [e for e in again if uploaded(e)]
    assert repeat.EventHandle != event.EventHandle
    assert repeat.FileUploadEvent.FileId == file_id

    stale = refused(lambda: _confirm(client, [event.EventHandle]))  # its lease ran out
    assert stale.get_code() == "InvalidParameterValue.EventHandles", stale
    _confirm(client, [e.EventHandle for e in again])
    _confirm(client, [e.EventHandle for e in again])  # twice: still fine
    time.sleep(LEASE)
    assert not any(uploaded(e) for e in _pull(client))  # confirmed: never again


def test_processing_and_deletion_events(server: Recorded) -> None:
    client = server.client()
    file_id = _record(server.server, "evt-b")
    task = client.ProcessMedia(request(
        models.ProcessMediaRequest, FileId=file_id, MediaProcessTask={
            "SnapshotByTimeOffsetTaskSet": [{"Definition": 10, "TimeOffsetSet": [1000]}]}))

    def finished(e: Any) -> bool:
        return (e.EventType == "ProcedureStateChanged"
                and e.ProcedureStateChangeEvent.TaskId == task.TaskId)

    pulled = _pull_until(client, finished, timeout=120)
    [event] = [e for e in pulled if finished(e)]
    procedure = event.ProcedureStateChangeEvent
    assert (procedure.Status, procedure.ErrCode, procedure.FileId) == ("FINISH", 0, file_id)
    assert procedure.FileName == "evt-b"
    [result] = procedure.MediaProcessResultSet
    assert result.Type == "SnapshotByTimeOffset"
    assert result.SnapshotByTimeOffsetTask.Status == "SUCCESS"
    assert result.SnapshotByTimeOffsetTask.Output.PicInfoSet[0].Url.startswith("http")
    _confirm(client, [e.EventHandle for e in pulled])

    client.DeleteMedia(request(models.DeleteMediaRequest, FileId=file_id))

    def deleted(e: Any) -> bool:
        return e.EventType == "FileDeleted" and e.FileDeleteEvent.FileIdSet == [file_id]

    pulled = _pull_until(client, deleted)
    [gone] = [e for e in pulled if deleted(e)]
    assert gone.FileDeleteEvent.FileDeleteResultInfo[0].FileId == file_id
    _confirm(client, [e.EventHandle for e in pulled])


def test_confirm_events_checks_its_handles(server: Recorded) -> None:
    client = server.client()
    for handles, code in (([], "InvalidParameterValue.EventHandles"),
                          (["x"] * 17, "InvalidParameterValue.EventHandles"),
                          (["not-a-handle"], "InvalidParameterValue.EventHandles")):
        error = refused(lambda h=handles: _confirm(client, h))  # type: ignore[misc]
        assert error.get_code() == code, (handles, error)
