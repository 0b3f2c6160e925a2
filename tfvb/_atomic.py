"""Files written whole or not at all, and read back with errors that name them.

A process killed while writing leaves the previous complete file (or none),
never a torn one: everything is written to a temporary file in the same
folder, flushed to disk, then renamed over the target (a rename within a
folder is atomic on POSIX file systems).

Nothing here imports TensorFlow.
"""

import contextlib
import errno
import json
import os
import shutil
import tempfile


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside `path`; on a clean exit it is synced and renamed to `path`.

    For writers that take a file name (`model.save_weights`, `np.savez`):
    `with replacing(p) as tmp: model.save_weights(tmp)`. The temporary name
    keeps the target's suffix, which such writers read their format from.
    """
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    suffix = base[base.index("."):] if "." in base else ""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base.split('.')[0]}.tmp-", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))  # mkstemp made it private (0600): the mode `open(path, "w")` would give
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _mode_for(path):
    """The permissions a plain write of `path` would leave: the existing file's, else 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(path, text):
    """Write `text` to `path` atomically."""
    with replacing(path) as tmp, open(tmp, "w") as f:
        f.write(text)


def write_json(path, obj, **kwargs):
    """Write `obj` as JSON to `path` atomically."""
    write_text(path, json.dumps(obj, **kwargs))


def read_json(path):
    """The JSON in `path`; a ValueError that names the file when it is not readable JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"Expected a JSON file at {path}. Received: unreadable JSON ({e}); delete the file "
                         "to compute it again") from e


def require_free_space(folder, nbytes, what):
    """Raise OSError(ENOSPC) saying so when `folder` has less than `nbytes` free for writing `what`.

    Checked before a write because some writers do not fail cleanly on a full disk (h5py can crash the
    process; TensorFlow raises its own errors).
    """
    free = shutil.disk_usage(folder).free
    if free < nbytes:
        raise OSError(errno.ENOSPC, f"Expected at least {nbytes / 2**20:.1f} MB free in {folder} to write {what}. "
                                    f"Received: {free / 2**20:.1f} MB free; free some space and run again")
