"""HubSpot CRM API emulator: `create_app(...)` returns the FastAPI app; `app.state.sandbox` is the
portal state (`HubSpotSandbox`) with Python methods for tests and seeding."""

from .app import create_app
from .clock import Clock, FakeClock
from .sandbox import HubSpotSandbox
from .webhooks import sign_v1, sign_v2, sign_v3

__all__ = ["Clock", "FakeClock", "HubSpotSandbox", "create_app", "sign_v1", "sign_v2", "sign_v3"]
