"""``python -m retentio.cli ...``: the ``retentio`` command."""

from retentio.cli.main import run

run()
