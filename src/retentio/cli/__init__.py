"""The command-line interface (Typer + Rich).  It only calls retentio.service."""
