"""Every Python example of the README runs as written, from the checkout, and leaves no file behind."""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Examples that run a whole benchmark protocol (minutes to hours) run with `-m slow`.
LONG = ("run_protocol(", "uci_benchmark(")


def _blocks():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    out = []
    for i, code in enumerate(blocks):
        first = next((line for line in code.splitlines() if line.strip() and not line.startswith("import")), "")
        marks = [pytest.mark.slow] if any(s in code for s in LONG) else []
        out.append(pytest.param(code, id=f"{i}-{re.sub(r'[^a-z0-9]+', '_', first.lower())[:40]}", marks=marks))
    return out


def _tree(root):
    found = set()
    for base, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", "runs", "__pycache__", ".pytest_cache")]
        found.update(os.path.relpath(os.path.join(base, f), root) for f in files)
    return found


@pytest.mark.parametrize("code", _blocks())
def test_readme_example_runs_and_leaves_no_file(code):
    before = _tree(REPO)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    assert _tree(REPO) - before == set()
