"""The web console: `create_app(runtime)` returns the FastAPI app that `ledgerbridge demo` and
`ledgerbridge serve` serve."""

from ledgerbridge.web.app import create_app

__all__ = ["create_app"]
