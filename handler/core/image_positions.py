"""Refuse images too thin for a two-stage detector to pick its queries from.

A two-stage GroundingDINO picks its ``num_queries`` decoder queries among the encoder's image
positions (every cell of every feature level, each level a ceiling division of the model input
by its stride). An image of extreme aspect ratio leaves fewer positions than queries and the
model's top-k fails (``selected index k out of range``): with the service's 800/1333 resize and
900 queries that is an image thinner than about 1:40. It is the client's input, so it is refused
before the model call with a message that names the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from handler.contract.errors import ErrorType, InvalidInput


def level_strides(stage_strides: Sequence[int], num_levels: int) -> tuple[int, ...]:
    """The stride of each encoder feature level: the backbone stages it reads (``stage_strides``),
    then one more level per extra stride-2 convolution up to ``num_levels``."""
    strides = list(stage_strides)
    while len(strides) < num_levels:
        strides.append(strides[-1] * 2)
    return tuple(strides)


def image_positions(width: int, height: int, strides: Sequence[int]) -> int:
    """Encoder positions of a ``width`` x ``height`` model input over feature levels of ``strides``."""
    return sum(math.ceil(width / stride) * math.ceil(height / stride) for stride in strides)


def check_image_positions(
    size: tuple[int, int], model_size: tuple[int, int], strides: Sequence[int], num_queries: int
) -> None:
    """Raise InvalidInput when the image (``size``, resized to ``model_size``) has too few positions.

    ``strides`` empty means the back end does not pick queries among positions: nothing to check.
    """
    if not strides:
        return
    found = image_positions(*model_size, strides)
    if found < num_queries:
        raise InvalidInput(
            f"image {size[0]}x{size[1]} is too thin for this model: resized to {model_size[0]}x{model_size[1]} "
            f"it gives {found} image positions, fewer than the model's {num_queries} queries; "
            "crop or pad it to a less extreme aspect ratio",
            ErrorType.IMAGE_TOO_THIN,
        )
