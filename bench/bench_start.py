"""Start-up: the app against a bare PySide6 window with a QTextBrowser, in the same run.

Launches each, in turn, as a new process and prints medians over --runs launches:
- launch to window: from starting the process to the first paint of its window (the app
  prints "window shown in N ms" at that point, counted from `run_gui`; the bench also times
  it from the launch, as it does for the bare window);
- start + quit: the whole process, start to exit (the app quits right after showing:
  LLMS_DESKTOP_QUIT_AFTER_SHOW=1);
- idle RSS: the process's resident memory a few seconds after start, the window up.
The app opens on a data folder with a provider (from OPENAI_BASE_URL, pointing at a closed
port) and 20 stored chats, the last one reopened: as on any relaunch, shown from the render
cache the launch before left; a last row measures launches with no render cache (the chat
never shown before: markdown-it and pygments load and render it). Floors: app-reported window shown
<= 0.35 s median; start + quit <= 2x the bare window; idle RSS <= 90 MB.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_start.py [--runs 7] [--idle 4]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = """
import sys, time
started = time.perf_counter()
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QTextBrowser
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(QTextBrowser())
window.resize(1000, 700)
painted = []
class Spy(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and not painted:
            painted.append(time.perf_counter())
        return False
spy = Spy()
app.installEventFilter(spy)
window.show()
while not painted:
    app.processEvents()
print(f"window shown in {(painted[0] - started) * 1000:.0f} ms", flush=True)
if len(sys.argv) < 2:
    QTimer.singleShot(0, app.quit)
app.exec()
"""

SHOWN = re.compile(r"window shown in (\d+) ms")


def prepare(folder: Path) -> None:
    """20 chats, the last one open when the app last quit (run in a child: Qt settings)."""
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from llms_desktop import settings as keys
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.ui.qsettings_backend import QSettingsBackend
app = QCoreApplication([])
folder = Path({str(folder)!r})
store = Store.open(folder)
last = ""
for number in range(20):
    thread = store.create_thread(f"Chat {{number}}", model="m")
    for position in range(20):
        role = "user" if position % 2 == 0 else "assistant"
        text = "A question?" if role == "user" else "An answer with **bold** and `code`.\\n\\n" + (
            "```python\\nprint('hello')\\n```\\n" if position % 4 == 1 else "- one\\n- two\\n")
        store.add_message(thread.id, role, text)
    last = thread.id
Settings(QSettingsBackend(folder)).set(keys.LAST_THREAD, last)
store.close()
"""
    subprocess.run([sys.executable, "-c", script], check=True, env=child_env())


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # As installed (pip and the packages byte-compile): the first launch writes the .pyc files
    # the measured ones use, instead of every launch compiling the sources.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing listens: a fast refusal
    env["OPENAI_API_KEY"] = "sk-bench"
    return env


def launch(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(reported ms, launch-to-window ms, start+quit ms) for one quit-after-show launch."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    reported = window = float("nan")
    for line in process.stdout:
        match = SHOWN.search(line)
        if match:
            window = (time.perf_counter() - started) * 1000
            reported = float(match.group(1))
    process.wait(timeout=60)
    whole = (time.perf_counter() - started) * 1000
    return reported, window, whole


def idle_rss(command: list[str], env: dict[str, str], seconds: float) -> float:
    """Resident memory (MB) `seconds` after start, the window up and left alone."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        time.sleep(seconds)
        status = Path(f"/proc/{process.pid}/status").read_text()
        kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    finally:
        process.terminate()
        process.wait(timeout=30)
    return kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=4.0, help="seconds before reading RSS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        prepare(data)
        env = child_env()
        quitting = dict(env, LLMS_DESKTOP_QUIT_AFTER_SHOW="1")
        app = [sys.executable, "-m", "llms_desktop", "--data-dir", str(data)]
        bare = [sys.executable, "-c", BARE]
        app_runs, bare_runs, fresh_runs = [], [], []
        launch(app, quitting)  # warm the page cache for both before measuring
        launch(bare, env)
        for _ in range(args.runs):
            app_runs.append(launch(app, quitting))
            bare_runs.append(launch(bare, env))
        for _ in range(args.runs):
            shutil.rmtree(data / "render-cache", ignore_errors=True)
            fresh_runs.append(launch(app, quitting))
        app_rss = idle_rss(app, env, args.idle)
        bare_rss = idle_rss([*bare, "stay"], env, args.idle)

    def median(runs: list[tuple[float, float, float]], index: int) -> float:
        return statistics.median(run[index] for run in runs)

    print(f"{args.runs} launches each, alternating; medians. Load: {os.getloadavg()[0]:.2f}")
    header = f"{'':<30} {'app':>10} {'bare window':>12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    rows = [
        ("window shown (app-reported)", median(app_runs, 0), median(bare_runs, 0)),
        ("launch to window", median(app_runs, 1), median(bare_runs, 1)),
        ("start + quit (whole process)", median(app_runs, 2), median(bare_runs, 2)),
    ]
    for name, ours, theirs in rows:
        print(f"{name:<30} {ours:>7.0f} ms {theirs:>9.0f} ms {ours / theirs:>6.2f}x")
    print(f"{'idle RSS':<30} {app_rss:>7.0f} MB {bare_rss:>9.0f} MB {app_rss / bare_rss:>6.2f}x")
    fresh, bare_whole = median(fresh_runs, 2), rows[2][2]
    name = "start + quit, no render cache"
    print(f"{name:<30} {fresh:>7.0f} ms {bare_whole:>9.0f} ms {fresh / bare_whole:>6.2f}x")
    shown, whole = rows[0][1], rows[2][1] / rows[2][2]
    print(
        f"Floors: window shown <= 350 ms [{'ok' if shown <= 350 else 'MISSED'}]; start + quit "
        f"<= 2x bare [{'ok' if whole <= 2 else 'MISSED'}]; idle RSS <= 90 MB "
        f"[{'ok' if app_rss <= 90 else 'MISSED'}]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
