"""livetape: self-hosted recording for interactive live video."""

from __future__ import annotations

import logging

from livetape.config import Settings
from livetape.errors import Catalogue, ErrorKind, LivetapeError

__version__ = "0.1.0"
__all__ = ["Catalogue", "ErrorKind", "LivetapeError", "Settings", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
