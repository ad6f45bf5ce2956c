"""Property-based fuzzing of the image decoder: whatever bytes arrive, an RGB image or an InvalidInput.

Random bytes and mutated real encodings of every supported format. Derandomized, so CI runs the
same examples every time.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from handler.contract.errors import ErrorType, InvalidInput
from handler.core.image_decode import decode_image
from tests.support.fuzz_inputs import FORMATS, FUZZ, VALID, image_bytes

# Pillow warns about the corrupt TIFF tags it skips; the outcome is what is checked.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")


@settings(FUZZ, max_examples=400)
@given(data=image_bytes())
def test_any_image_bytes_decode_to_rgb_or_are_refused_with_a_message(data):
    try:
        decoded = decode_image(data, max_pixels=4_000_000, target_size=lambda w, h: (w, h))
    except InvalidInput as error:
        assert error.message.strip() and error.error_type in (ErrorType.INVALID_IMAGE, ErrorType.IMAGE_TOO_LARGE)
    else:
        assert decoded.pixels.mode == "RGB" and decoded.pixels.size[0] * decoded.pixels.size[1] > 0


def test_a_tiff_header_with_impossible_dimensions_is_refused_as_an_invalid_image():
    """Found by the fuzzing above: Pillow's TIFF reader raises ValueError("Invalid dimensions") while opening."""
    data = (
        b"II*\x00\x08\x00\x00\x00\n\x00\x00\x01\x01\x00\x01\x00\x00\x00\x18\x00\x00\x00"
        b"\x01\x01\x04\x00\x01\x00\x00\x00\x10\x00\x00\x00"
    )
    with pytest.raises(InvalidInput) as refused:
        decode_image(data, max_pixels=4_000_000)
    assert refused.value.error_type == ErrorType.INVALID_IMAGE and "not a readable image" in refused.value.message


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_supported_format_decodes_when_intact(fmt):
    assert decode_image(VALID[fmt], max_pixels=1000).size == (24, 16)
