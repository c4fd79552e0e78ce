"""The declared public surface: what `import livetape` promises, and the catalogue's shape."""

from __future__ import annotations

import subprocess
import sys

import livetape
from livetape.errors import Catalogue


def test_exported_members() -> None:
    assert livetape.__all__ == sorted(livetape.__all__)
    assert livetape.__all__ == ["Catalogue", "ErrorKind", "LivetapeError", "Settings",
                                "__version__"]
    for name in livetape.__all__:
        assert hasattr(livetape, name)


def test_catalogue_codes_are_unique_and_complete() -> None:
    rows = Catalogue.rows()
    assert len({k.code for k in rows}) == len(rows)
    assert len({k.name for k in rows}) == len(rows)
    for kind in rows:
        assert kind.message and kind.hint and 400 <= kind.http_status < 600
    # the source table's recording codes livetape produces
    produced = {1, 2, 30000000, 30000001, 30000002, 30000003, 30000004, 30000410, 30000411,
                30000412, 30000413, 30000415}
    assert produced <= {k.code for k in rows}


def test_the_client_sdk_loads_no_database_layer() -> None:
    """`import livetape.client...` (an app server's or a publisher's import) needs neither
    SQLAlchemy nor livetape's models."""
    code = ("import sys, livetape.client.api, livetape.client.publisher; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith(('sqlalchemy', 'alembic', 'livetape.db'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout
