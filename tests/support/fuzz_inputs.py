"""Hypothesis strategies for fuzzing what callers send: image bytes, JSON values, field names."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image

from handler.core.request import KNOWN_FIELDS
from tests.support.images import encode

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
SMALL = Image.new("RGB", (24, 16), (200, 30, 90))
VALID = {fmt: encode(SMALL, fmt) for fmt in FORMATS}


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, or a real small encoding with some bytes changed, cut short or extended."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(VALID[draw(st.sampled_from(FORMATS))])
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))]) + draw(st.binary(max_size=20))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(sorted(KNOWN_FIELDS)) | st.text(max_size=12)
