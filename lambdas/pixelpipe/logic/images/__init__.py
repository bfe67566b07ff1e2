"""Image work by job: `decode` (validate, sniff, decode, orient), `colour`, `thumbnails`, `label_input`.

The public names are re-exported here, so `from pixelpipe.logic.images import make_thumbnails` is the
stable import path for workers, benchmarks and tests.
"""

from pixelpipe.logic.images.colour import to_rgb
from pixelpipe.logic.images.decode import ImageLimits, open_image
from pixelpipe.logic.images.label_input import encode_jpeg
from pixelpipe.logic.images.thumbnails import Thumbnail, make_thumbnails

__all__ = ["ImageLimits", "Thumbnail", "encode_jpeg", "make_thumbnails", "open_image", "to_rgb"]
