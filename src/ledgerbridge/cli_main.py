"""`python -m ledgerbridge.cli_main ...` is `ledgerbridge ...` (for child processes)."""

from ledgerbridge.cli import app

if __name__ == "__main__":
    app()
