"""CoP Workbook: reflective exercises and case discussions for Communities of Practice.

Importing the package is cheap on purpose: participant kernels import only what their app
needs (no pandas, no matplotlib at start).
"""

from cop_widgets._version import __version__

__all__ = ["__version__"]
