"""`make publish` pushes a built book to the gh-pages branch of a remote (here a local bare
repository; no network), with .nojekyll so that GitHub Pages serves _static/ and _images/."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not shutil.which("make") or not shutil.which("git"),
                                reason="needs make and git")


def _git(*args, cwd, env=None):
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def test_make_publish_pushes_the_html_to_gh_pages(tmp_path):
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (html / "book" / "intro.html").write_text("<h1>Grokking tickets</h1>")
    (html / "_static").mkdir()
    (html / "_static" / "style.css").write_text("body {}")
    remote = tmp_path / "remote.git"
    _git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    # The Makefile's own command, run from the project; ghp-import's git commands go to a scratch
    # repository (GIT_DIR) so the project's branches stay untouched.
    scratch = tmp_path / "scratch"
    _git("init", "-q", str(scratch), cwd=tmp_path)
    env = {**os.environ, "GIT_DIR": str(scratch / ".git"),
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
           "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid"}
    # -o: never reinstall the environment from inside a test.
    run = subprocess.run(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "publish",
                          f"REMOTE={remote}", f"BOOK_HTML={html}"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr

    clone = tmp_path / "clone"
    _git("clone", "-q", "--branch", "gh-pages", str(remote), str(clone), cwd=tmp_path)
    files = sorted(p.relative_to(clone).as_posix() for p in clone.rglob("*")
                   if p.is_file() and ".git" not in p.relative_to(clone).parts)
    assert files == [".nojekyll", "_static/style.css", "book/intro.html", "index.html"]
    assert "Grokking tickets" in (clone / "book" / "intro.html").read_text()
    assert _git("log", "--format=%s", cwd=clone).strip() == "Publish the book"


def test_make_publish_without_a_build_says_what_to_do(tmp_path):
    run = subprocess.run(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "publish",
                          f"REMOTE={tmp_path / 'none.git'}", f"BOOK_HTML={tmp_path / 'missing'}"],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "run make book first" in run.stderr
