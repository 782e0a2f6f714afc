"""`llms-desktop --self-test`: the installer smoke test passes, and says why when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from llms_desktop import errors
from llms_desktop.types import ChatRequest, Delta, TextDelta
from llms_desktop.ui import self_test


def run_self_test(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ)
    # The self-test must choose the offscreen platform by itself, as it does in a bundle.
    env.pop("QT_QPA_PLATFORM", None)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "llms_desktop", "--self-test", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return result, time.perf_counter() - started


@pytest.mark.timing  # bounds its time: runs alone
def test_self_test_prints_ok_within_seconds_and_leaves_home_alone(isolated_home: Path) -> None:
    result, seconds = run_self_test()
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
    assert seconds < 10
    # The data folder, settings and keys went to a temporary folder, not the user's.
    assert not (isolated_home / "data").exists()
    leftovers = [str(p) for p in isolated_home.rglob("*") if "llms-desktop" in str(p)]
    assert leftovers == []


def test_self_test_through_the_airefinery_sdk(isolated_home: Path) -> None:
    result, _seconds = run_self_test("--airefinery")
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
    assert not (isolated_home / "data").exists()


async def failing_stream(
    self: self_test.FakeProvider, request: ChatRequest
) -> AsyncGenerator[Delta]:
    self.requests.append((request.model, request.messages[-1].content))
    yield TextDelta("partial")
    raise errors.ProviderError("the fake provider broke")


def test_a_failing_answer_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(self_test.FakeProvider, "stream", failing_stream)
    assert self_test.main([]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "llms-desktop self-test failed: the answer failed: ProviderError: the fake provider broke\n"
    )


def test_an_answer_that_never_ends_times_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(self_test, "PIECE_GAP", 30.0)
    started = time.perf_counter()
    assert self_test.main(["--timeout", "0.5"]) == 1
    assert time.perf_counter() - started < 5
    assert capsys.readouterr().err == (
        "llms-desktop self-test failed: no complete answer within 0.5 s\n"
    )


def test_in_a_bundle_children_must_not_inherit_its_library_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", "/opt/llms-desktop/_internal", raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/llms-desktop/_internal")
    assert self_test.main([]) == 1
    assert "LD_LIBRARY_PATH still points into the bundle" in capsys.readouterr().err
