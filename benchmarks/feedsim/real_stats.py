"""What the simulator reports about the real recommender beyond the common metrics. Kept apart
from real.py so that the report never has to import Molodets."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RealStats:
    write_ms: list[float] = field(default_factory=list)  # wall time of each events.write + commit
    training_ms: list[float] = field(default_factory=list)  # wall time of each vectors.train + commit
    dropped: dict[str, int] = field(default_factory=dict)  # events the validator refused, by reason
    short_pages: int = 0  # pages with fewer items than asked for

    def add(self, other: RealStats) -> None:
        self.write_ms += other.write_ms
        self.training_ms += other.training_ms
        for reason, count in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.short_pages += other.short_pages
