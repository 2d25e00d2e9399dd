"""Where the suite's own files are: suites, locustfiles, manifests and the twin's Go pins.

They live at the top of a checkout; `brixcheck/_data` holds links to them, which a wheel turns
into copies, so `pip install .` carries them. Resolving the link gives the checkout's file in a
checkout and the installed copy otherwise: one lookup for both.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE_DATA = Path(str(resources.files("brixcheck"))) / "_data"
CHECKOUT = Path(__file__).resolve().parents[1]


def data_path(*parts: str) -> Path:
    """A file or directory of the suite, e.g. data_path("locustfiles", "streaming_chat.py")."""
    return PACKAGE_DATA.joinpath(*parts).resolve()


def in_checkout() -> bool:
    """True when brixcheck runs from a source checkout (editable install or PYTHONPATH)."""
    return (CHECKOUT / "pyproject.toml").is_file() and data_path("suites").parent == CHECKOUT


def work_dir() -> Path:
    """Where runs keep reports and history: the checkout, else the current directory."""
    return CHECKOUT if in_checkout() else Path.cwd()


def reports_dir() -> Path:
    """reports/ of the work directory (created by whoever writes first)."""
    return work_dir() / "reports"


HISTORY_NAME = "history.sqlite"


def default_history_db() -> Path:
    """The results history every benchmark run is stored in, and `compare` reads by default."""
    return reports_dir() / HISTORY_NAME
