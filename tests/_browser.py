"""Headless Chromium for the tests that check pages as a person sees them (Debian's chromium package,
installed by `scripts/system-deps.sh browser` when missing)."""

import os
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium():
    """The path of a Chromium binary, installing Debian's package first if there is none."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    subprocess.run(["bash", os.path.join(REPO, "scripts", "system-deps.sh"), "browser"], check=True)
    found = shutil.which("chromium")
    assert found, "Expected Chromium after scripts/system-deps.sh browser. Received: no chromium on PATH"
    return found


def browser(binary, profile, *args):
    """Run headless Chromium with a fresh profile folder; its stdout (e.g. the DOM with --dump-dom)."""
    done = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
