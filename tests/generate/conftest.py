from __future__ import annotations

import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")
