"""The version of omnisim, in one module that imports nothing.

Every module that records the version (run manifests, sweep identities, the command line)
imports it from here rather than from the package top, so that nothing below ``omnisim``
imports ``omnisim/__init__.py`` (which itself imports the API, and so the whole package).
pyproject.toml reads the same attribute (``[tool.setuptools.dynamic]``), so the installed
distribution's metadata and ``omnisim.__version__`` cannot disagree.
"""

__version__ = "0.1.0"
