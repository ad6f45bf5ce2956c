"""The shell blocks of a Markdown page, so a test can run the page as printed.

A ```` ```bash ```` block runs in the reader's terminal unless the HTML comment just above it says
otherwise: ``<!-- doc-test: server -->`` (a server the reader leaves running in a terminal of its
own) or ``<!-- doc-test: skip (why) -->`` (an alternative the test does not take). Other fences
(``text``, ``python``) are never run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BLOCK = re.compile(r"(?:<!-- doc-test: (?P<tag>\w+)[^>]*-->\n)?```bash\n(?P<text>.*?)```", re.DOTALL)
TAGS = ("", "server", "skip")


@dataclass(frozen=True)
class ShellBlock:
    text: str
    tag: str  # "" (the terminal), "server" or "skip"
    line: int  # where the block starts in the page


def shell_blocks(page: Path) -> list[ShellBlock]:
    """Every ```` ```bash ```` block of ``page`` in order, with its tag (ValueError for an unknown tag)."""
    source = page.read_text()
    blocks = []
    for match in BLOCK.finditer(source):
        tag = match.group("tag") or ""
        if tag not in TAGS:
            raise ValueError(f"{page}: unknown doc-test tag {tag!r}")
        blocks.append(ShellBlock(match.group("text"), tag, source.count("\n", 0, match.start()) + 1))
    return blocks


def exported_values(text: str) -> dict[str, str]:
    """The ``export NAME=value`` settings of a block (the value as written, comment left out)."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^export (\w+)=(\S*)", text, re.MULTILINE)}


def with_values(text: str, values: Mapping[str, str]) -> tuple[str, set[str]]:
    """``text`` with the value of each ``export NAME=value`` whose NAME is in ``values`` replaced
    (the rest of the line kept); also the names it replaced."""
    replaced: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        replaced.add(match.group(1))
        return f"export {match.group(1)}={values[match.group(1)]}"

    names = "|".join(re.escape(name) for name in values)
    return re.sub(rf"^export ({names})=\S*", replace, text, flags=re.MULTILINE), replaced
