"""Chip 2's points purse: consumption, bank and credit points in PBOC purse form.

Importing the package registers its load file (``F000000002``, module ``F00000000201``;
instance AID ``F0000000020101`` by default) so a chip can INSTALL it.
"""

from .applet import PointsPurseApplet
from .install import PURSE_LOAD_FILE, install_purse

__all__ = ["PURSE_LOAD_FILE", "PointsPurseApplet", "install_purse"]
