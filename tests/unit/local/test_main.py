"""``python -m local``'s simulator options for returns."""

from __future__ import annotations

import pytest

from local.__main__ import _verdicts


def test_per_sku_verdicts_are_read() -> None:
    assert _verdicts("MUG-CC-BLU=failed, TORCH-CB-01=damaged") == {"MUG-CC-BLU": "failed", "TORCH-CB-01": "damaged"}
    assert _verdicts("") == {}


@pytest.mark.parametrize("value", ["MUG-CC-BLU", "MUG-CC-BLU=broken"])
def test_an_unknown_verdict_is_refused(value: str) -> None:
    with pytest.raises(SystemExit, match="expected SKU=passed"):
        _verdicts(value)
