"""The cluster's registry over HTTP, for the operator: which nodes are alive (any node answers
for all of them)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from livetape.api.deps import operator, services
from livetape.api.openapi import raises
from livetape.cluster.registry import NodeEntry
from livetape.errors import Catalogue, LivetapeError

router = APIRouter(prefix="/v1/operator/cluster", tags=["cluster"],
                   dependencies=[Depends(operator)])

REGISTRY_ERRORS = (Catalogue.NOT_FOUND, Catalogue.REGISTRY_UNREACHABLE,
                   Catalogue.REGISTRY_FAILED, Catalogue.REGISTRY_TIMEOUT,
                   Catalogue.REGISTRY_NOT_PARSEABLE, Catalogue.REGISTRY_NOT_OBJECT,
                   Catalogue.REGISTRY_BAD_FIELD, Catalogue.REGISTRY_NO_RESULT,
                   Catalogue.REGISTRY_WRONG_KEY)


class NodeList(BaseModel):
    node_id: str  # the node that answered
    nodes: list[NodeEntry]


@router.get("/nodes", summary="The live nodes of the cluster (operator key)")
@raises(*REGISTRY_ERRORS)
async def nodes(request: Request) -> NodeList:
    cluster = services(request).cluster
    if cluster is None:
        raise LivetapeError(Catalogue.NOT_FOUND, "this server is not in a cluster",
                            hint="set LIVETAPE_NATS_URL (and a PostgreSQL "
                            "LIVETAPE_DATABASE_URL) on every node")
    return NodeList(node_id=cluster.node_id, nodes=await cluster.registry.nodes())


@router.get("/nodes/{node_id}", summary="One live node of the cluster (operator key)")
@raises(*REGISTRY_ERRORS, Catalogue.REGISTRY_NO_ROOM)
async def node(node_id: str, request: Request) -> NodeEntry:
    cluster = services(request).cluster
    if cluster is None:
        raise LivetapeError(Catalogue.NOT_FOUND, "this server is not in a cluster")
    return await cluster.registry.get(node_id)
