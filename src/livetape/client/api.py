"""The Python SDK for livetape's server API (rooms, tokens, recording, play info)."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """A livetape error response: the table's code, message and hint."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.code = int(body.get("code", -1))
        self.message = str(body.get("message", ""))
        self.hint = str(body.get("hint", ""))
        super().__init__(f"HTTP {status}, code {self.code}: {self.message} (hint: {self.hint})")


class LivetapeClient:
    """Talks to one livetape server as an app server (secret key) or as a user (token).

    >>> async with LivetapeClient("http://127.0.0.1:8080", secret_key="...") as lt:
    ...     await lt.create_room("class-1")
    """

    def __init__(self, base_url: str, *, secret_key: str | None = None,
                 token: str | None = None, timeout: float = 60.0,
                 verify: bool | str = True) -> None:
        """``verify``: check the server's HTTPS certificate (True), against this CA file or
        certificate (a path: a server with a self-signed one), or not at all (False)."""
        credential = secret_key or token
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout,
                                       verify=verify)

    async def __aenter__(self) -> LivetapeClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"code": -1, "message": response.text}
            raise ApiError(response.status_code, body)
        if response.status_code == 204 or not response.content:
            return {}
        result: dict[str, Any] = response.json()
        return result

    async def mint_token(self, user_id: str, *, ttl_seconds: int | None = None,
                         privileges: list[str] | None = None) -> str:
        body: dict[str, Any] = {"user_id": user_id}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if privileges is not None:
            body["privileges"] = privileges
        return str((await self._call("POST", "/v1/tokens", json=body))["token"])

    async def create_room(self, room_id: str | None = None, *, type: str = "multi") -> str:
        body = {"room_id": room_id, "type": type}
        return str((await self._call("POST", "/v1/rooms", json=body))["room_id"])

    async def get_room(self, room_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/rooms/{room_id}")

    async def delete_room(self, room_id: str) -> None:
        await self._call("DELETE", f"/v1/rooms/{room_id}")

    async def ice_servers(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """STUN and TURN servers for publishing, TURN credentials minted for the user (a user
        token: its own; the secret key: ``user_id``). Hand them to :class:`WhipPublisher`."""
        params = {"user_id": user_id} if user_id else None
        servers: list[dict[str, Any]] = (
            await self._call("GET", "/v1/ice-servers", params=params))["ice_servers"]
        return servers

    def whip_url(self, room_id: str, src_type: str = "camera") -> str:
        return f"{self.base_url}/v1/rooms/{room_id}/whip?src_type={src_type}"

    async def start_recording(self, room_id: str, file_name: str, *,
                              user_id: str | None = None, src_type: str = "camera",
                              **options: Any) -> str:
        """Start; ``options``: record_type, class_id, tags, transcode, screenshot, watermark."""
        body = {"operation": "start", "room_id": room_id, "file_name": file_name,
                "src_type": src_type, **options}
        if user_id is not None:
            body["user_id"] = user_id
        return str((await self._call("POST", "/v1/record", json=body))["recording_id"])

    async def stop_recording(self, room_id: str, *, user_id: str | None = None,
                             src_type: str = "camera") -> list[str]:
        """Stop; returns the ids of every file the recording produced, in order."""
        body: dict[str, Any] = {"operation": "stop", "room_id": room_id, "src_type": src_type}
        if user_id is not None:
            body["user_id"] = user_id
        return list((await self._call("POST", "/v1/record", json=body))["file_ids"])

    async def get_recording(self, recording_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/recordings/{recording_id}")

    async def play_info(self, file_name: str, *, page_no: int = 1,
                        page_size: int = 10) -> dict[str, Any]:
        params = {"file_name": file_name, "page_no": page_no, "page_size": page_size}
        return await self._call("GET", "/v1/vod/play-info", params=params)

    async def get_file(self, file_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/vod/files/{file_id}")

    async def convert(self, file_id: str, definitions: list[int] | None = None, *,
                      watermark: bool = False, screenshot: bool = False) -> dict[str, Any]:
        """ConvertVodFile: queues a transcode (and watermark / snapshot) job; returns them."""
        body: dict[str, Any] = {"watermark": watermark, "screenshot": screenshot}
        if definitions is not None:
            body["definitions"] = definitions
        return await self._call("POST", f"/v1/vod/files/{file_id}/convert", json=body)

    async def snapshot(self, file_id: str, time_offsets_ms: list[int], *, cover: bool = False,
                       width: int | None = None) -> dict[str, Any]:
        body = {"time_offsets_ms": time_offsets_ms, "cover": cover, "width": width}
        return await self._call("POST", f"/v1/vod/files/{file_id}/snapshots", json=body)

    async def watermark(self, file_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/vod/files/{file_id}/watermark")

    async def set_watermark(self, png: bytes, position: str = "top-right") -> dict[str, Any]:
        return await self._call("PUT", "/v1/vod/watermark", content=png,
                                params={"position": position},
                                headers={"Content-Type": "image/png"})

    async def get_job(self, job_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/vod/jobs/{job_id}")

    async def list_jobs(self, *, file_id: str | None = None,
                        state: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("file_id", file_id), ("state", state)) if v}
        return list((await self._call("GET", "/v1/vod/jobs", params=params))["jobs"])

    async def app_settings(self, **changes: Any) -> dict[str, Any]:
        """The app's settings; with keyword arguments, change them first (PATCH)."""
        if changes:
            return await self._call("PATCH", "/v1/app", json=changes)
        return await self._call("GET", "/v1/app")

    async def create_webhook(self, url: str, events: list[str] | None = None) -> dict[str, Any]:
        """Register a webhook endpoint; the answer's ``secret`` is shown this once."""
        body: dict[str, Any] = {"url": url}
        if events is not None:
            body["events"] = events
        return await self._call("POST", "/v1/app/webhooks", json=body)

    async def list_webhooks(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/v1/app/webhooks"))["webhooks"])

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._call("DELETE", f"/v1/app/webhooks/{webhook_id}")

    async def deliveries(self, webhook_id: str, *, state: str | None = None,
                         limit: int = 50) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"state": state} if state else {})}
        found = await self._call("GET", f"/v1/app/webhooks/{webhook_id}/deliveries",
                                 params=params)
        return list(found["deliveries"])

    async def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        return await self._call(
            "POST", f"/v1/app/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")

    async def events(self, after: int = 0, *, limit: int = 100,
                     wait_seconds: float = 0) -> dict[str, Any]:
        """The app's events after cursor ``after``: ``{"events": [...], "next": cursor}``;
        with ``wait_seconds``, waits that long for one when there is none yet."""
        params = {"after": after, "limit": limit, "wait_seconds": wait_seconds}
        return await self._call("GET", "/v1/events", params=params,
                                timeout=max(60.0, wait_seconds + 30))
