"""The ``livetape`` command (``livetape.cli.main``)."""

from livetape.cli.main import main

__all__ = ["main"]
