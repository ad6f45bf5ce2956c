"""The run's summary: images done and failed (with reasons), detections per class, throughput."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gdino_client.classes import ClassList
from gdino_client.results import ImageResult


@dataclass
class Summary:
    images: int  # images the source names
    done: int  # annotated, by this run or an earlier one
    failed: dict[str, str]  # image key -> reason
    pending: int  # not tried (a --limit stopped the run)
    resumed: int  # done by earlier runs, skipped by this one
    detections: dict[str, int]  # class name -> boxes
    unmatched: int  # boxes whose phrase names no class
    ignored: list[str] = field(default_factory=list)  # folder files that are not images by their suffix
    seconds: float = 0.0
    requested: int = 0  # images this run sent or checked

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def images_per_second(self) -> float:
        return self.requested / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_second": round(self.images_per_second, 3)}

    def text(self) -> str:
        """Human-readable report, a few lines plus one per failure."""
        lines = [
            f"images: {self.images}, done: {self.done} ({self.resumed} from earlier runs), "
            f"failed: {len(self.failed)}, pending: {self.pending}",
            f"this run: {self.requested} images in {self.seconds:.1f} s ({self.images_per_second:.2f} images/s)",
            "detections: "
            + (", ".join(f"{name}: {count}" for name, count in self.detections.items()) or "none")
            + (f"; {self.unmatched} boxes named no class" if self.unmatched else ""),
        ]
        if self.ignored:
            lines.append(f"ignored {len(self.ignored)} non-image files, e.g. {self.ignored[0]}")
        lines += [f"FAILED {key}: {reason}" for key, reason in sorted(self.failed.items())]
        return "\n".join(lines) + "\n"


def count_detections(results: Sequence[ImageResult], classes: ClassList) -> tuple[dict[str, int], int]:
    """Boxes per class name (every class listed, in order) and the number of boxes with no class."""
    counts = Counter(d.class_id for result in results for d in result.detections)
    unmatched = counts.pop(None, 0)
    return {name: counts.get(i, 0) for i, name in enumerate(classes.names)}, unmatched
