"""Time from launching `lci-studio` to its visible window, for the standalone build and the pip install.

Runs each command under its own Xvfb (QT_QPA_PLATFORM=xcb) and polls `xdotool search
--onlyvisible --name "LCI Studio"` every 20 ms; the time is launch → first visible window.
"Cold" is the first launch after dropping the page cache (needs root; otherwise it says so and
the first launch is only "first"); "warm" is the median of the next --runs launches. Two
reference points say where the time goes: `lci-studio --version` (the process and Python, no
torch, no Qt) and `lci --help` (that plus importing torch and the codec).

    python bench/startup.py [--frozen packaging/dist/lci-studio] [--pip .venv/bin] [--runs 5] [--cold]

Needs Xvfb and xdotool (Debian: apt install xvfb xdotool).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TITLE = "LCI Studio"


def drop_page_cache() -> bool:
    """Empty the kernel's page cache so the next launch reads every file from disk; False without permission."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def start_xvfb() -> tuple[subprocess.Popen, str]:
    for number in range(140, 200):
        if Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        display = f":{number}"
        server = subprocess.Popen(
            ["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return server, display
            time.sleep(0.05)
        server.kill()
    raise RuntimeError("could not start Xvfb")


def window_seconds(command: list[str], env: dict[str, str], timeout: float = 60.0) -> float:
    """Seconds from starting `command` to a visible window titled LCI Studio; the process is then stopped."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.perf_counter() - start < timeout:
                found = subprocess.run(
                    ["xdotool", "search", "--onlyvisible", "--name", TITLE], env=env, capture_output=True, text=True
                )
                if found.stdout.strip():
                    return time.perf_counter() - start
                if process.poll() is not None:
                    log.seek(0)
                    said = log.read()[-600:]
                    raise RuntimeError(f"{command[0]} exited with {process.returncode} before a window: {said}")
                time.sleep(0.02)
            raise RuntimeError(f"no window within {timeout:g} s")
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def run_seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(name: str, bin_dir: Path, env: dict[str, str], runs: int, cold: bool) -> dict[str, float | str]:
    studio, lci = str(bin_dir / "lci-studio"), str(bin_dir / "lci")
    row: dict[str, float | str] = {"build": name}
    dropped = drop_page_cache() if cold else False
    row["first"] = window_seconds([studio], env)
    row["first is"] = "cold (page cache dropped)" if dropped else "first launch (page cache not dropped)"
    row["warm"] = statistics.median(window_seconds([studio], env) for _ in range(runs))
    row["--version"] = statistics.median(run_seconds([studio, "--version"], env) for _ in range(3))
    row["lci --help"] = statistics.median(run_seconds([lci, "--help"], env) for _ in range(3))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frozen", type=Path, default=ROOT / "packaging" / "dist" / "lci-studio",
                        help="folder of the standalone build (packaging/build.sh)")
    parser.add_argument("--pip", type=Path, default=ROOT / ".venv" / "bin", help="bin folder of a pip install")
    parser.add_argument("--runs", type=int, default=5, help="warm launches to take the median of")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before the first launch (root)")
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            print(f"startup.py: {tool} is not installed (apt install xvfb xdotool)", file=sys.stderr)
            return 2
    server, display = start_xvfb()
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
    rows = []
    try:
        for name, folder in (("frozen", args.frozen), ("pip", args.pip)):
            if (folder / "lci-studio").exists():
                rows.append(measure(name, folder, env, args.runs, args.cold))
                row = rows[-1]
                print(
                    f"{name:6s} window: {row['first']:.2f} s {row['first is']}, {row['warm']:.2f} s warm "
                    f"(median of {args.runs}); lci-studio --version {row['--version']:.2f} s, "
                    f"lci --help (imports torch) {row['lci --help']:.2f} s",
                    flush=True,
                )
            else:
                print(f"{name:6s} not found: {folder}/lci-studio", flush=True)
    finally:
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
