"""What a media node took in and wrote since it started (:class:`NodeTotals`, its process's
metrics): the ended publications and recorders are added up as they end, the live ones on
reading."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from livetape.live.publication import Publication
from livetape.medianode.interface import NodeTotals
from livetape.recorder.controller import RecordingController

KINDS = ("audio", "video")


class NodeTally:
    def __init__(self) -> None:
        self._ended: Counter[str] = Counter()

    async def publication_ended(self, publication: Publication) -> None:
        await self._add_publication(self._ended, publication)

    def recorder_ended(self, controller: RecordingController) -> None:
        self._add_recorder(self._ended, controller)

    async def totals(self, publications: list[Publication],
                     recorders: Iterable[RecordingController]) -> NodeTotals:
        now = Counter(self._ended)
        for publication in publications:
            await self._add_publication(now, publication)
        running = 0
        for controller in recorders:
            self._add_recorder(now, controller)
            running += 1
        return NodeTotals(
            publications=len(publications), recordings=running,
            rtp_packets=now["rtp_packets"],
            media_bytes={k: now[f"bytes.{k}"] for k in KINDS},
            frames_written={k: now[f"written.{k}"] for k in KINDS},
            frames_dropped=now["dropped"],
            nack_requests=now["loss.nack_requests"], packets_recovered=now["loss.recovered"],
            video_gaps=now["loss.gaps"], plis=now["loss.plis"],
        )

    @staticmethod
    async def _add_publication(into: Counter[str], publication: Publication) -> None:
        into["rtp_packets"] += await publication.packets_received()
        into.update({f"bytes.{k}": v for k, v in publication.bytes_received.items()})
        into.update({f"loss.{k}": v for k, v in publication.loss_counts.items()})

    @staticmethod
    def _add_recorder(into: Counter[str], controller: RecordingController) -> None:
        into.update({f"written.{k}": v for k, v in controller.written.items()})
        into["dropped"] += controller.dropped

