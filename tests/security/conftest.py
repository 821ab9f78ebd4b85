"""Fixtures for the security tests (see security_helpers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The engine-level rows reuse the integration tests' world (both sandboxes, real connectors),
# imported by the same name those tests use, so a full run loads it once.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from security_helpers import Served
from security_helpers import serve as _serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """No webhook secrets configured: only the public sandbox ones exist."""
    yield from _serve(tmp_path)


@pytest.fixture
def served_with_secrets(tmp_path: Path) -> Iterator[Served]:
    yield from _serve(
        tmp_path,
        hubspot_client_secret="real-hubspot-secret",
        qbo_webhook_verifier_token="real-verifier-token",
    )


@pytest.fixture
def served_legacy(tmp_path: Path) -> Iterator[Served]:
    yield from _serve(
        tmp_path,
        hubspot_client_secret="real-hubspot-secret",
        hubspot_webhook_legacy_signatures=True,
    )


@pytest.fixture
def served_real_only(tmp_path: Path) -> Iterator[Served]:
    """Only a real connection, no webhook secrets: webhooks must be refused outright."""
    yield from _serve(tmp_path, with_sandbox=False)
