"""Mask encodings: COCO RLE that pycocotools reads back exactly, polygons that rasterise back to the mask."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from handler.contract.mask_codec import (
    decode_rle,
    encode_rle,
    polygons,
    polygons_to_mask,
    rle_area,
    segmentation_mask,
)

pytestmark = pytest.mark.masks


def blank(height: int = 40, width: int = 60) -> np.ndarray:
    return np.zeros((height, width), dtype=bool)


def ellipse(height: int = 120, width: int = 200) -> np.ndarray:
    rows, cols = np.mgrid[:height, :width]
    return ((rows - height / 2) / (height / 3)) ** 2 + ((cols - width / 2) / (width / 3)) ** 2 < 1


def shapes() -> dict[str, np.ndarray]:
    one_pixel, block, corners = blank(), blank(), blank()
    one_pixel[7, 9] = True
    block[3:5, 4:7] = True
    corners[0:5, 0:5] = corners[30:40, 50:60] = True
    return {
        "empty": blank(),
        "full": np.ones((10, 12), dtype=bool),
        "one pixel": one_pixel,
        "3x2 block": block,
        "blobs on the borders": corners,
        "ellipse": ellipse(),
        "noise": np.random.default_rng(0).random((50, 70)) < 0.5,
    }


@pytest.mark.parametrize("name", list(shapes()))
def test_rle_round_trips_through_pycocotools_with_the_same_pixels_and_area(name: str) -> None:
    mask = shapes()[name]
    rle = encode_rle(mask)
    assert rle["size"] == list(mask.shape) and isinstance(rle["counts"], str)
    decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    assert decoded.dtype == np.uint8 and np.array_equal(decoded.astype(bool), mask)
    assert rle_area(rle) == int(coco_mask.area({"size": rle["size"], "counts": rle["counts"].encode()})) == mask.sum()
    assert np.array_equal(decode_rle(rle), mask) and np.array_equal(segmentation_mask(rle, *mask.shape), mask)


def test_a_rectangle_is_traced_on_pixel_edges_with_its_corners_cut_at_half_pixels() -> None:
    mask = blank(6, 8)
    mask[1:3, 2:5] = True  # rows 1-2, columns 2-4: x from 2 to 5, y from 1 to 3 in edge coordinates
    [outline] = polygons(mask)
    points = set(zip(outline[0::2], outline[1::2]))
    assert points == {(2.0, 1.5), (2.5, 1.0), (4.5, 1.0), (5.0, 1.5), (5.0, 2.5), (4.5, 3.0), (2.5, 3.0), (2.0, 2.5)}


@pytest.mark.parametrize("name", ["one pixel", "3x2 block", "blobs on the borders", "ellipse", "full"])
def test_polygons_of_hole_free_shapes_rasterise_back_to_the_same_pixels(name: str) -> None:
    mask = shapes()[name]
    regions = polygons(mask)
    assert all(len(region) % 2 == 0 and len(region) >= 6 for region in regions)
    assert np.array_equal(polygons_to_mask(regions, *mask.shape), mask)
    assert np.array_equal(segmentation_mask(regions, *mask.shape), mask)


def test_separate_regions_are_separate_polygons_largest_first_and_holes_are_filled() -> None:
    mask = blank()
    mask[2:20, 2:20] = True
    mask[8:12, 8:12] = False  # a hole: polygons cannot cut it
    mask[30, 40] = mask[31, 41] = True  # touching diagonally: two regions
    regions = polygons(mask)
    assert len(regions) == 3
    first = np.asarray(regions[0]).reshape(-1, 2)
    assert (first.min(axis=0) == [2, 2]).all() and (first.max(axis=0) == [20, 20]).all()
    filled = mask.copy()
    filled[8:12, 8:12] = True
    assert np.array_equal(polygons_to_mask(regions, *mask.shape), filled)


def test_an_empty_mask_has_no_polygon_and_a_zero_area() -> None:
    assert polygons(blank()) == [] and not polygons_to_mask([], 4, 5).any()
    assert rle_area(encode_rle(blank())) == 0


def test_a_mask_must_be_two_dimensional() -> None:
    with pytest.raises(ValueError, match="2-D"):
        encode_rle(np.zeros((2, 3, 4), dtype=bool))
