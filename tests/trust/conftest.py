"""The hostile-terminal suite runs on both databases and with a real simulated card: it
borrows the back office's database fixtures and the POS rig."""

from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401
from tests.pos.conftest import rig  # noqa: F401
