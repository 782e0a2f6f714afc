"""PySide6 still learns which modules use it, but no module's source stays in linecache."""

from __future__ import annotations

import importlib
import linecache
import sys
from pathlib import Path

import PySide6.QtCore  # noqa: F401  (loads PySide6's import hook)
import pytest

from llms_desktop.ui.source_scan import stop_caching_sources


def test_modules_imported_after_pyside_leave_no_source_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feature = sys.modules["PySide6.support.feature"]
    monkeypatch.setattr(feature, "_mod_uses_pyside", feature._mod_uses_pyside)
    stop_caching_sources()
    (tmp_path / "scan_uses_qt.py").write_text("from PySide6.QtCore import QObject\n" * 50)
    (tmp_path / "scan_plain.py").write_text("VALUE = 1\n" * 50)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("scan_uses_qt", "scan_plain"):
        monkeypatch.delitem(sys.modules, name, raising=False)
        module = importlib.import_module(name)
        # What PySide6's import hook does for each module an import statement loads (called
        # here directly: whether the hook runs depends on how the test process imported).
        monkeypatch.delitem(feature.pyside_feature_dict, name, raising=False)
        feature.feature_imported(module)
    assert str(tmp_path / "scan_uses_qt.py") not in linecache.cache
    assert str(tmp_path / "scan_plain.py") not in linecache.cache
    # The same verdicts as PySide6's own check: 0 ("uses PySide6"), -1 ("ignore").
    assert feature.pyside_feature_dict["scan_uses_qt"] == 0
    assert feature.pyside_feature_dict["scan_plain"] == -1
