"""The rebuild port: one shape for rebuilding any read model from the event store.

Every read model's rebuild (:class:`~eventledger_projections.postgres.rebuild.PostgresRebuild`,
:class:`~eventledger_projections.redis.rebuild.RedisRebuild`,
:class:`~eventledger_projections.elasticsearch.rebuild.ElasticsearchRebuild`) follows one contract:

- it builds a new version beside the live one while the live version keeps serving and its projector keeps running;
- it reads the event store only up to settled bounds (the event-log reader's contract), so it skips nothing;
- it switches to the new version atomically, after which the live projector carries on from where the new version
  was built to: no event is lost or applied twice in the read model's answers;
- only one rebuild of a read model runs at a time; a second one is refused and changes nothing;
- it tells its :class:`RebuildListener` how much work is planned and done, and answers one :class:`RebuildReport`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol


class RebuildListener(Protocol):
    """What a rebuild reports as it goes (the CLI draws a progress bar from it)."""

    def planned(self, events: int) -> None:
        """``events`` more events are to be replayed."""

    def replayed(self, events: int) -> None:
        """``events`` more events were replayed."""


class SilentListener:
    """A listener that listens to nothing (the default)."""

    def planned(self, events: int) -> None:
        pass

    def replayed(self, events: int) -> None:
        pass


@dataclass(frozen=True)
class RebuildConfig:
    """What every rebuild is tuned by: events per batch, and how close to the live log it hands over."""

    batch_size: int = 2000
    handover_lag: int = 2000


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did. ``where`` names the new version in its store (a schema, a key prefix, an index)."""

    read_model: str
    version: int
    where: str
    previous: int | None
    events: int
    built_to: int
    seconds: float
    skipped: int = 0
    dropped: tuple[str, ...] = field(default_factory=tuple)
    catch_up_rounds: int = 0

    def __str__(self) -> str:
        """One line for the rebuild command, in the same words for every read model."""
        line = (
            f"{self.where} from {self.events:,} events ({self.skipped} skipped),"
            f" live at position {self.built_to:,} after {self.seconds:.1f} s"
        )
        if self.catch_up_rounds:
            line += f", {self.catch_up_rounds} catch-up rounds"
        if self.previous is not None:
            line += f"; replaced v{self.previous}"
        return line + (f"; dropped {', '.join(self.dropped)}" if self.dropped else "")


class RebuildRefused(Exception):
    """The rebuild did not start and changed nothing (another rebuild runs, or left versions behind)."""


class RebuildAlreadyRunning(RebuildRefused):
    """Another rebuild of the same read model holds its rebuild lock."""


class Rebuild(ABC):
    """One rebuild of one read model (see the module's contract); built with everything it needs, run once."""

    @abstractmethod
    def run(self) -> RebuildReport:
        """Build, switch, clean up; raises if refused (another rebuild runs) or on a failure it cannot survive."""
