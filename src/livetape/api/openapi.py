"""OpenAPI that tells the truth: each operation lists the error statuses it answers, each
with the catalogue's body, and 400 (not FastAPI's 422) for invalid parameters.

Routes and dependencies name the catalogue rows they may raise with :func:`raises`; the
schema is then rewritten once (:func:`document`): an operation answers the rows its
endpoint and its dependencies raise, 1000 (400) for invalid parameters and URLs, and the 413
rows where it takes a body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from livetape.api.guard import refusal
from livetape.errors import Catalogue, ErrorKind

F = TypeVar("F", bound=Callable[..., Any])
_RAISES = "__livetape_raises__"
_REF = "#/components/schemas/ErrorBody"


class ErrorBody(BaseModel):
    """Every error response's body: a catalogue row's code, its message (with what was
    wrong), and a hint saying what to do. Some rows add fields (30000413: ``file_ids``)."""

    model_config = ConfigDict(extra="allow", title="ErrorBody")

    code: int = Field(description="the catalogue's code (README: Error codes)")
    message: str
    hint: str


def raises(*kinds: ErrorKind) -> Callable[[F], F]:
    """Marks an endpoint or a dependency with the catalogue rows it may raise."""

    def mark(func: F) -> F:
        setattr(func, _RAISES, (*getattr(func, _RAISES, ()), *kinds))
        return func

    return mark


def served(media_types: Iterable[str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route serving stored objects of these types: whole (200), a range
    (206), a redirect to the object store (302) or, in a cluster, to the node whose spool
    holds it (307), not modified (304), or a range past the end (416)."""
    content = {t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}
    return {
        200: {"description": "the object", "content": content},
        206: {"description": "the requested range", "content": content},
        302: {"description": "on S3: the object at a presigned URL of short life (Location)",
              "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}}},
        307: {"description": "a cluster: the object waits in another node's spool; the same "
              "path and query on that node (Location)",
              "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}}},
        304: {"description": "not modified since the validators sent"},
        416: {"description": "a range past the end", "content": {
            "application/json": {"schema": {"$ref": _REF}}}},
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _route_kinds(route: RouteContext) -> list[ErrorKind]:
    kinds: list[ErrorKind] = []
    for call in _calls(route.dependant):
        kinds += [k for k in getattr(call, _RAISES, ()) if k not in kinds]
    return kinds


def _responses(kinds: list[ErrorKind]) -> dict[str, dict[str, Any]]:
    by_status: dict[int, list[ErrorKind]] = {}
    for kind in sorted(kinds, key=lambda k: k.code):
        by_status.setdefault(kind.http_status, []).append(kind)
    return {str(status): {
        "description": "; ".join(f"{k.code} {k.name}" for k in rows),
        "content": {"application/json": {"schema": {"$ref": _REF}}},
    } for status, rows in sorted(by_status.items())}


def _truthful(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    # body limits answer 413 before any route runs (their rows, whatever they are)
    too_large = [k for k in Catalogue.rows() if k.http_status == 413]
    for route in iter_route_contexts(app.routes):  # included routers' routes too
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format or "", {}).get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            kinds = _route_kinds(route)
            # FastAPI's 422: validation answers 1000 (app.py), as does the URL check on every
            # route (guard.py); /media/ validates nothing and answers 404 there
            responses.pop("422", None)
            refused = refusal(route.path_format or "")
            kinds += [refused] if refused not in kinds else []
            if "requestBody" in operation:
                kinds += [k for k in too_large if k not in kinds]
            responses.update(_responses(kinds))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components["ErrorBody"] = ErrorBody.model_json_schema()
    return schema


def document(app: FastAPI) -> None:
    """Serve the truthful schema at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _truthful(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
