"""The model-based convergence test reuses the engine test world (tests/integration)."""

from __future__ import annotations

import sys
from pathlib import Path

INTEGRATION = str(Path(__file__).resolve().parent.parent / "integration")
if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)
