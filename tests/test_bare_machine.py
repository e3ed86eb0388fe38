"""A bare machine (Python 3.11 and make, nothing else) runs the README's two commands: every command
a Makefile recipe runs is one such a machine has or one a recipe installs, the browser is found or
installed (or the run stops at once with the command to run), and the book's JavaScript is
committed, intact."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What a bare machine has: Python 3.11 (python3), make, a POSIX shell and its utilities, git (the
# clone itself). Everything else must come from a recipe: the venv's programs (.venv/bin/...).
BARE = {"python3", "make", "sh", "bash", "test", "[", "touch", "rm", "mkdir", "cp", "mv", "echo",
        "cd", "true", "false", "exit", "cat", "printf", "git", "id", "env"}
INSTALLED = ".venv/bin/"  # the STAMP recipe creates the venv and installs into it
TARGETS = ["book", "test"]  # the README's two commands
# Run from inside `make test`, a make would inherit the outer one's flags and level and print
# "Entering directory" lines: the dry runs start clean.
QUIET_MAKE = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def recipe_commands(targets, cwd=ROOT):
    """Every command `make -n -B` would run for ``targets`` (-B: as on a fresh clone, where every
    target is out of date), as (program, line) pairs."""
    out = subprocess.run(["make", "-n", "-B", "--no-print-directory", *targets], cwd=cwd, env=QUIET_MAKE,
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line.strip()):
            words = [w for w in part.strip("{}() ").split() if not re.fullmatch(r"[A-Z_]+=\S*", w)]
            if words:
                yield words[0], line


def test_the_two_commands_need_only_what_a_bare_machine_has_or_a_recipe_installs():
    missing = sorted({(program, line) for program, line in recipe_commands(TARGETS)
                      if program not in BARE and not program.startswith(INSTALLED)})
    assert not missing, ("commands of `make book` / `make test` that a bare machine lacks and no "
                         f"recipe installs: {missing}")


def test_the_check_catches_a_tool_nothing_installs(tmp_path):
    (tmp_path / "Makefile").write_text("book:\n\tnpm pack mathjax\n\t.venv/bin/python -c 1\n"
                                       "\tFOO=1 test -x x || npx vite build\n")
    programs = [program for program, _ in recipe_commands(["book"], cwd=tmp_path)]
    assert [p for p in programs if p not in BARE and not p.startswith(INSTALLED)] == ["npm", "npx"]


def test_make_test_looks_for_the_browser_before_any_test():
    """The browser is found or installed right after the venv, so a machine where none can be
    installed stops within seconds, not after the unit tests, nbval and the book."""
    programs = [line for _, line in recipe_commands(["test"])]
    first_test = next(i for i, line in enumerate(programs) if "pytest" in line or "execute.py" in line)
    finder = next(i for i, line in enumerate(programs) if "tests_browser/chromium.py" in line)
    assert finder < first_test, programs


def _chromium_module():
    spec = importlib.util.spec_from_file_location("chromium", ROOT / "tests_browser" / "chromium.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_browser_or_a_way_to_install_one_it_stops_with_the_command_to_run(monkeypatch):
    chromium = _chromium_module()
    tried = []
    monkeypatch.setattr(chromium, "system_chromium", lambda: None)
    monkeypatch.setattr(chromium, "playwright_chromium", lambda: None)
    monkeypatch.setattr(chromium, "_try", lambda commands, env=None: tried.append(commands) or False)
    monkeypatch.setattr(chromium, "can_use_apt", lambda: False)
    monkeypatch.setattr(chromium, "launches", lambda path, is_system: True)
    with pytest.raises(SystemExit) as stop:
        chromium.ensure()
    message = str(stop.value)
    assert "\n" not in message and ("apt-get install -y chromium" in message
                                     or "playwright install chromium" in message), message
    assert tried == [[chromium.PLAYWRIGHT]]  # Playwright's download first; apt only as root


def test_as_root_it_falls_back_to_debians_package(monkeypatch):
    chromium = _chromium_module()
    installed = []
    monkeypatch.setattr(chromium, "system_chromium", lambda: "/usr/bin/chromium" if installed else None)
    monkeypatch.setattr(chromium, "playwright_chromium", lambda: None)
    monkeypatch.setattr(chromium, "can_use_apt", lambda: True)
    monkeypatch.setattr(chromium, "launches", lambda path, is_system: True)

    def fake_try(commands, env=None):
        if commands == chromium.APT:
            installed.append(True)
            return True
        return False  # Playwright's download fails, as without internet

    monkeypatch.setattr(chromium, "_try", fake_try)
    assert chromium.ensure() == "/usr/bin/chromium"


def test_a_browser_already_there_is_used_without_installing(monkeypatch):
    chromium = _chromium_module()
    monkeypatch.setattr(chromium, "system_chromium", lambda: "/opt/chromium")
    monkeypatch.setattr(chromium, "launches", lambda path, is_system: True)
    monkeypatch.setattr(chromium, "_try", lambda *a, **k: pytest.fail("tried to install"))
    assert chromium.ensure() == "/opt/chromium"


def test_a_browser_that_does_not_start_is_replaced(monkeypatch):
    """A downloaded build without its system libraries counts as none: the next way is tried."""
    chromium = _chromium_module()
    installed = []
    monkeypatch.setattr(chromium, "system_chromium", lambda: "/usr/bin/chromium" if installed else None)
    monkeypatch.setattr(chromium, "playwright_chromium", lambda: "/cache/chrome")
    monkeypatch.setattr(chromium, "launches", lambda path, is_system: is_system)
    monkeypatch.setattr(chromium, "can_use_apt", lambda: True)
    monkeypatch.setattr(chromium, "_try", lambda commands, env=None: commands != chromium.APT
                        or installed.append(True) or True)
    assert chromium.ensure() == "/usr/bin/chromium"


def test_the_books_javascript_is_committed_and_matches_its_manifest():
    done = subprocess.run([sys.executable, str(ROOT / "book" / "vendor.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tracked = set(subprocess.run(["git", "ls-files", "book/assets/vendor"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.split())
    if tracked:  # in a git checkout: every file of the MANIFEST is committed, not only present here
        listed = [line.partition("  ")[2] for line in
                  (ROOT / "book/assets/vendor/MANIFEST").read_text().splitlines()[1:]]
        assert len(listed) > 50
        assert {f"book/assets/vendor/{rel}" for rel in listed} | {"book/assets/vendor/MANIFEST"} <= tracked
