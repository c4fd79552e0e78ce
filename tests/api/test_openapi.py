"""``/openapi.json`` documents every body and status: each operation has a typed success
schema, a request body schema where it takes JSON, and the error statuses it answers."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.routing import APIRoute

from livetape.api.routes import (
    app_settings,
    billing,
    classes,
    console,
    ice,
    processing,
    record,
    rooms,
    serving,
    vod,
    web,
    webhooks,
    whip,
)
from livetape_harness.server import LiveServer

# every router of the API
ROUTERS: list[APIRouter] = [record.router, rooms.router, ice.router, whip.router, classes.router,
                            app_settings.router, billing.router, processing.router, vod.router,
                            serving.router, web.router, console.router, webhooks.router]

# operations whose success is no JSON body: SDP, or nothing at all
NOT_JSON = {
    ("post", "/v1/rooms/{room_id}/whip"),  # 201: the SDP answer
    ("patch", "/v1/rooms/{room_id}/whip/{publication_id}"),  # 204: trickled
    ("delete", "/v1/rooms/{room_id}/whip/{publication_id}"),  # 200: the session ended
    ("delete", "/v1/rooms/{room_id}"),  # 204: closed
    ("get", "/media/{app_id}/{file_id}/{path}"),  # the stored object (206, 304: served())
    ("head", "/media/{app_id}/{file_id}/{path}"),
}
# operations anyone may call (no 401): a signed URL is checked by its query (403), and the
# console's session is shown or ended whether or not there is one; the media route validates
# nothing either (a bad URL is a 404)
OPEN = {  # -> the error statuses each must document
    ("get", "/media/{app_id}/{file_id}/{path}"): {"403", "404", "416"},
    ("head", "/media/{app_id}/{file_id}/{path}"): {"403", "404", "416"},
    ("get", "/console/session"): {"400"},
    ("delete", "/console/session"): {"400"},
}
# operations whose body is no JSON
NOT_JSON_BODY = {
    ("post", "/v1/rooms/{room_id}/whip"),  # application/sdp
    ("patch", "/v1/rooms/{room_id}/whip/{publication_id}"),  # application/trickle-ice-sdpfrag
    ("put", "/v1/vod/watermark"),  # image/png
}
ERROR_BODY = "#/components/schemas/ErrorBody"


def operations(routers: list[APIRouter]) -> list[tuple[str, str, APIRoute]]:
    found = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                found += [(m.lower(), route.path_format, route) for m in sorted(route.methods)]
    return found


def typed(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """A ``$ref`` to a documented object, a union of them, or an object with properties."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name in components and typed(components[name], components)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return all(typed(s, components) for s in schema[union])
    return schema.get("type") == "object" and bool(schema.get("properties"))


def problems(schema: dict[str, Any], method: str, path: str, route: APIRoute) -> list[str]:
    """What the operation's documentation misses."""
    components = schema["components"]["schemas"]
    operation = schema["paths"][path][method]
    responses = operation["responses"]
    found = []
    success = min(s for s in responses if s.startswith("2"))
    if (method, path) not in NOT_JSON:
        body = responses[success].get("content", {}).get("application/json", {}).get("schema")
        if body is None or not typed(body, components):
            found.append(f"success {success} is not typed: {body}")
    if route.body_field is not None or (method, path) == ("post", "/v1/record"):
        content = operation.get("requestBody", {}).get("content", {})
        if (method, path) not in NOT_JSON_BODY and not typed(
                content.get("application/json", {}).get("schema", {}), components):
            found.append(f"request body is not typed: {content}")
    errors = {s: r for s, r in responses.items() if s[0] in "45"}
    needed = OPEN.get((method, path), {"400", "401"})
    if not needed <= set(errors):  # bad input, no credentials
        found.append(f"error statuses missing: {sorted(responses)}")
    found += [f"{status} has no ErrorBody (FastAPI's own 422?)" for status, r in errors.items()
              if r.get("content", {}).get("application/json", {}).get("schema")
              != {"$ref": ERROR_BODY}]
    return found


def test_the_list_is_complete() -> None:
    listed = {(m, p) for m, p, _ in operations(ROUTERS)}
    assert NOT_JSON <= listed and NOT_JSON_BODY <= listed
    assert set(OPEN) <= listed and len(listed) >= 40


def test_every_operation_is_typed(server: LiveServer) -> None:
    answer = httpx.get(f"{server.url}/openapi.json")
    answer.raise_for_status()
    schema = answer.json()
    missing = {f"{method.upper()} {path}": found for method, path, route in operations(ROUTERS)
               if (found := problems(schema, method, path, route))}
    assert not missing, missing
