"""The settings choose the media node: in this process, or over NATS."""

from __future__ import annotations

from pathlib import Path

import pytest

from livetape.config import Settings
from livetape.medianode.in_process import InProcessMediaNode
from livetape.medianode.remote import NatsMediaNode
from livetape.medianode.service import NodeService
from livetape.medianode.wiring import media_node, node_service
from tests.medianode.conftest import CLUSTER_DB


def test_single_node_and_cluster(tmp_path: Path) -> None:
    single = Settings(data_dir=tmp_path)
    assert isinstance(media_node(single), InProcessMediaNode)
    assert node_service(single) is None
    cluster = Settings(data_dir=tmp_path, database_url=CLUSTER_DB,
                    nats_url="nats://127.0.0.1:1", node_id="node-a")
    own = media_node(cluster)
    assert isinstance(own, NatsMediaNode) and own.node_id == "node-a"
    assert media_node(cluster, "node-b").node_id == "node-b"
    service = node_service(cluster)
    assert isinstance(service, NodeService) and service.node_id == "node-a"


def test_node_ids_must_be_subject_tokens(tmp_path: Path) -> None:
    cluster = Settings(data_dir=tmp_path, database_url=CLUSTER_DB,
                    nats_url="nats://127.0.0.1:1")
    with pytest.raises(ValueError, match="LIVETAPE_NODE_ID"):
        media_node(cluster)
    with pytest.raises(ValueError, match="subject token"):
        media_node(cluster, "host.example.org")
