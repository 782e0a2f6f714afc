"""ui/ schedules work on the running loop only: a task made before qasync's loop runs never runs."""

from __future__ import annotations

from pathlib import Path

import llms_desktop.ui

UI = Path(llms_desktop.ui.__file__).parent


def test_ui_never_asks_for_the_event_loop_outside_a_running_one() -> None:
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(UI.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "get_event_loop(" in line
    ]
    assert offenders == []
