"""Squall's thin shared layer: settings, the error root, the broker contract and the CLI.

Each stage (ingest/, compute/, serve/) owns its own logic; this package only holds
what more than one stage must agree on.
"""

from squall.exceptions import SquallError

__all__ = ["SquallError", "__version__"]

__version__ = "0.1.0"
