"""Images too thin for the model's query selection are refused as the client's input, exactly at the limit.

A two-stage model picks its queries among the encoder's image positions; an image that leaves fewer
positions than queries made the model's top-k fail (a 500). The check counts the positions from
the back end's feature strides: the thinnest image it lets through is answered, and the next
thinner one, which it refuses with a 400 message, really does make the model fail.
"""

from __future__ import annotations

import pytest

from handler.contract.errors import InvalidInput
from handler.core.image_positions import check_image_positions, image_positions


def test_positions_are_summed_over_levels_with_ceiling_division() -> None:
    assert image_positions(1333, 800, (8, 16, 32, 64)) == 167 * 100 + 84 * 50 + 42 * 25 + 21 * 13
    assert image_positions(9, 1, (8,)) == 2


def test_image_with_fewer_positions_than_queries_is_refused_with_the_numbers() -> None:
    with pytest.raises(InvalidInput, match=r"image 2000x40 is too thin.*1333x27.*fewer than the model's 900 queries"):
        check_image_positions((2000, 40), (1333, 27), (8, 16, 32, 64), 900)
    check_image_positions((2000, 60), (1333, 40), (8, 16, 32, 64), 900)  # 1,156 positions: fine


def test_back_end_without_strides_is_not_checked() -> None:
    check_image_positions((2000, 1), (1333, 1), (), 900)
