"""The Chromium that the browser tests drive, found or installed by the project itself.

    python tests_browser/chromium.py          # find Chromium, installing it where it is missing

`make test` runs this before its first test, so a machine without a browser either gets one within
a couple of minutes or stops at once with the one command to run. In order:

1. a Chromium already there that starts headless: Debian's `chromium` (or `chromium-browser`) on
   PATH, or the build that Playwright keeps in its own cache (`playwright install chromium`);
2. Playwright's own download, `python -m playwright install chromium` (as root with `--with-deps`,
   which installs the system libraries it needs): the ecosystem's convention, for a machine with
   internet (it fails within seconds where only the package registries answer);
3. Debian's package, `apt-get install -y chromium`, where the user is root and apt-get is there
   (about 90 s);
4. otherwise one line on stderr naming the command to run, and exit status 1.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DEBIAN_NAMES = ("chromium", "chromium-browser")
PLAYWRIGHT = [sys.executable, "-m", "playwright", "install", "chromium"]
PLAYWRIGHT_AS_ROOT = [*PLAYWRIGHT[:-1], "--with-deps", "chromium"]  # also the system libraries it needs
APT = [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]]
TIMEOUT_S = 600


def system_chromium() -> str | None:
    """Debian's Chromium on PATH, if there is one."""
    return next(filter(None, map(shutil.which, DEBIAN_NAMES)), None)


def playwright_chromium() -> str | None:
    """The Chromium in Playwright's own cache, if `playwright install chromium` has put one there."""
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # no Playwright, or its driver cannot start: no browser of its own
        return None
    return path if path and Path(path).exists() else None


def find() -> tuple[str | None, bool]:
    """(path, is_system): Debian's Chromium first (launched by path), then Playwright's (launched
    by Playwright without a path); (None, False) if neither is there. Call it outside a Playwright
    session (Playwright's sync API does not nest)."""
    path = system_chromium()
    if path:
        return path, True
    path = playwright_chromium()
    return path, False


def launches(path: str, is_system: bool) -> bool:
    """Whether the browser starts headless and closes: a downloaded build can lack the system
    libraries it needs (a slim image), and a name on PATH can be a wrapper that does nothing."""
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            p.chromium.launch(executable_path=path if is_system else None,
                              args=["--no-sandbox", "--disable-gpu"]).close()
        return True
    except Exception as err:  # any failure to start: say it, and try the next way
        print(f"chromium: {path} does not start headless ({str(err).strip().splitlines()[0]})",
              file=sys.stderr)
        return False


def _usable() -> str | None:
    path, is_system = find()
    return path if path and launches(path, is_system) else None


def _try(commands: list[list[str]], env: dict | None = None) -> bool:
    for command in commands:
        try:
            done = subprocess.run(command, timeout=TIMEOUT_S, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except (OSError, subprocess.TimeoutExpired) as err:
            print(f"chromium: {' '.join(command)}: {err}", file=sys.stderr)
            return False
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]  # the error, not apt's chatter
            print(f"chromium: {' '.join(command)} failed: {last}", file=sys.stderr)
            return False
    return True


def can_use_apt() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure() -> str:
    """The path of a Chromium, installed first where none is found; SystemExit(1) with the command
    to run where nothing here can install one."""
    if path := _usable():
        return path
    print("chromium: none that starts; trying Playwright's download (python -m playwright install chromium)")
    if _try([PLAYWRIGHT_AS_ROOT if can_use_apt() else PLAYWRIGHT]) and (path := _usable()):
        return path
    if can_use_apt():
        print("chromium: installing Debian's chromium with apt-get (about 90 s)")
        if _try(APT, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}) and (path := _usable()):
            return path
    hint = ("sudo apt-get install -y chromium" if shutil.which("apt-get")
            else f"{Path(sys.executable).parent / 'python'} -m playwright install chromium")
    raise SystemExit(f"chromium: the browser tests need Chromium and none could be installed here: "
                     f"run `{hint}`, then `make test` again")


if __name__ == "__main__":
    print(f"chromium: {ensure()}")
