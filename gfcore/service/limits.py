"""What one request may cost the service, checked before the work it bounds.

Bytes are counted as they arrive (a declared ``Content-Length`` over the limit is refused before any body
is read), pixels from the image's header before anything is decoded (:func:`gfcore.data.images.load_rgb`),
and requests are admitted only while fewer than ``max_waiting`` are queued or running, so the memory the
service holds is at most ``max_waiting x max_request_bytes`` of uploads plus one batch of
``batch_pixels`` decoded pixels and their tiles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gfcore.errors import GfpError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServiceLimits:
    #: bytes of one request's body: a few large camera JPEGs, or a batch of small images
    max_request_bytes: int = 32 * MIB
    #: images in one request
    max_images: int = 64
    #: pixels (width x height) of one image; 16 megapixels is a 4896 x 3264 camera image
    max_pixels: int = 16_000_000
    #: requests queued or running at once; one more gets 503 and a Retry-After
    max_waiting: int = 64
    #: images per forward pass; waiting requests with the same options share a pass up to this
    batch_images: int = 64
    #: pixels decoded and attributed at once (one image larger than this goes alone): decoded, cut into
    #: tiles and stacked, about 10 bytes a pixel, so 16 megapixels keep a batch near 160 MB
    batch_pixels: int = 16_000_000
    #: seconds a client may take to send its request body (408 beyond): a slow sender holds a slot
    read_timeout_s: int = 60

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value < 1:
                raise GfpError(f"service limit {name} must be a positive integer, not {value!r}")
        if self.max_pixels <= 16_000_000:  # the default, under gfp's decoding limit
            return
        from gfcore.data.images import MAX_PIXELS  # numpy and Pillow: not for the defaults (gfp --help)

        if self.max_pixels > MAX_PIXELS:
            raise GfpError(
                f"service limit max_pixels {self.max_pixels:,} is over gfp's decoding limit {MAX_PIXELS:,}"
            )

    def as_dict(self) -> dict:
        return asdict(self)


class RequestTooLarge(Exception):
    """The body went past ``max_request_bytes`` (413)."""


async def bounded_body(receive, limit: int):
    """The ASGI ``receive`` of a request, as chunks of its body; raises :class:`RequestTooLarge` as soon as
    more than ``limit`` bytes have arrived, so a client that lies about (or omits) its Content-Length still
    costs at most ``limit`` bytes."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise RequestTooLarge(f"request body over the limit of {limit:,} bytes")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
