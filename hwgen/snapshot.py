"""One run sees one build: a private, checked copy of a build directory, and figures written back only to the build
they were measured on.

    snap = open_build(out)       # BuildDirError (exit 2) unless OUT is exactly what one `hwgen build` wrote
    snap.dir                     # the copy: every file the manifest lists, each hash checked (report/, whose figures
                                 # change, and hwgraph.onnx, for people only, are not copied)
    snap.build_id                # the manifest's build id
    snap.record("report/summary.json", lambda s: {**s, "rtlsim": figs})   # into this build, or nowhere
    snap.close()                 # (also when the snapshot is garbage collected, or at exit)

How. A rebuild replaces OUT by renaming a complete new directory over it (hwgen.outdir). So OUT is opened once, as a
directory file descriptor, and its manifest and every listed file are read through that descriptor, hashed and
copied into a private scratch directory: a rebuild meanwhile cannot mix its files in, because the descriptor still
names the directory that was opened. While copying, the reader holds a shared flock on that directory, which the
rebuild's swap takes exclusive first, so a rebuild waits for copies in progress (hwgen.outdir.READERS_WAIT at most).
When the rebuild replaced OUT anyway (between the open and the lock, after the wait, or by a build that does not
lock), the old tree is deleted under the reader or a hash differs while OUT no longer names the opened directory:
the copy is dropped and made again from the new OUT (MAX_TRIES);
a hash that differs while OUT is still the opened directory is a tampered or mixed build and is refused, as are
files the manifest does not list in the directories the runtime reads (manifest.STRICT_DIRS: an extra header in
hls/ would shadow the real one in a C-simulation compile), and anything that is not a regular file where one is
listed (a named pipe would block the reader). Backends then read the copy only: rtlsim's .mem files, csim's C++,
the graph and parameters all come from the one build whose id the run reports.

Writing back (`record`, the measured figures in report/summary.json) goes through the same descriptor under an
exclusive lock on the report directory, after checking that OUT still names it: the figures of a build replaced
meanwhile stay with that build (which is being deleted) and never land in the new build's report. A read-only
build directory is not an error: the figures are not recorded and `record` says why.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
import weakref
from pathlib import Path

from hwgen.errors import BuildDirError
from hwgen.fileops import scratch_base
from hwgen.manifest import FORMAT, MANIFEST, STRICT_DIRS, is_build_dir

MAX_TRIES = 5  # copies started again because OUT was rebuilt while being read
NOT_COPIED = ("hwgraph.onnx",)  # checked, but read by people (Netron) only: CNV's is 12 MB
TEMP_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<what>building|old)-[A-Za-z0-9_]{8}$")  # hwgen.outdir's names
_BLOCK = 1 << 20


class _Replaced(Exception):
    """OUT was replaced by another build while it was being read: read the new one."""


def _fail(out: Path, text: str):
    raise BuildDirError(f"{str(out)!r} {text}")


def _check_path(out: Path) -> None:
    """Refuse what is not a build directory, with the message that says what it is."""
    m = TEMP_SIBLING.match(out.name)
    if m:
        real = out.parent / m.group("name")
        doing = "being built" if m.group("what") == "building" else "being replaced"
        _fail(out, f"is a temporary directory of hwgen's: {str(real)!r} is {doing} there, or a build of it was "
                   f"killed (the next build of {str(real)!r} removes it); use {str(real)!r} itself.")
    if not out.exists():
        _fail(out, "does not exist; it should be an hwgen build directory: run `hwgen build MODEL -o OUT`.")
    if not out.is_dir():
        _fail(out, "is a file, not an hwgen build directory; run `hwgen build MODEL -o OUT`.")


def clean_relpath(rel) -> bool:
    """True if `rel` is a plain relative path inside a directory (no '..', not absolute, no empty parts)."""
    return (isinstance(rel, str) and rel != "" and not rel.startswith("/") and "\0" not in rel
            and all(part not in ("", ".", "..") for part in rel.split("/")))


def _read_manifest(fd: int, out: Path) -> dict:
    try:
        mfd = os.open(MANIFEST, os.O_RDONLY | os.O_NONBLOCK, dir_fd=fd)
    except FileNotFoundError:
        if is_build_dir(out):
            _fail(out, f"was built by an older hwgen (no {MANIFEST}, so its files cannot be checked); rebuild it "
                       "with `hwgen build MODEL -o OUT`.")
        _fail(out, f"is not an hwgen build directory (no {MANIFEST}); run `hwgen build MODEL -o OUT`.")
    with os.fdopen(mfd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            _fail(out, f"has a {MANIFEST} that is not a regular file; rebuild it with `hwgen build MODEL -o OUT`.")
        data = f.read(64 << 20)
    where = f"{str(out / MANIFEST)!r}"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BuildDirError(f"{where} is not a valid manifest ({type(e).__name__}); rebuild with `hwgen build`.") \
            from None
    if (not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict)
            or not all(isinstance(v, str) for v in doc["files"].values())):
        raise BuildDirError(f"{where} is not a manifest of this hwgen version; rebuild with `hwgen build`.")
    bad = [rel for rel in doc["files"] if not clean_relpath(rel)]
    if bad:
        raise BuildDirError(f"{where} lists a path outside the build directory ({bad[0]!r}); it was edited: "
                            "rebuild with `hwgen build`.")
    return doc


def _copy_one(fd: int, rel: str, dest: Path | None) -> str | None:
    """sha256 of OUT/rel read through the directory descriptor (copied to dest/rel on the way); None when it is
    not a regular file. FileNotFoundError when it is missing."""
    src = os.open(rel, os.O_RDONLY | os.O_NONBLOCK, dir_fd=fd)  # a named pipe opens at once, and is refused
    with os.fdopen(src, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        h = hashlib.sha256()
        with contextlib.ExitStack() as stack:
            w = None
            if dest is not None:
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                w = stack.enter_context(open(target, "wb"))
            for block in iter(lambda: f.read(_BLOCK), b""):
                h.update(block)
                if w is not None:
                    w.write(block)
    return h.hexdigest()


def _unlisted(fd: int, listed) -> list[str]:
    """Entries (of any type but directories) under STRICT_DIRS that the manifest does not list."""
    extra = []
    for d in STRICT_DIRS:
        try:
            os.stat(d.rstrip("/"), dir_fd=fd)
        except OSError:
            continue
        # iterated, not listed first: fwalk closes each directory's descriptor once the walk moves past it
        for dirpath, dirnames, filenames, dfd in os.fwalk(d.rstrip("/"), dir_fd=fd):
            # fwalk lists links to directories among dirnames and does not enter them: entries all the same
            links = [n for n in dirnames if stat.S_ISLNK(os.stat(n, dir_fd=dfd, follow_symlinks=False).st_mode)]
            for n in filenames + links:
                rel = f"{dirpath}/{n}"
                if rel not in listed:
                    extra.append(rel)
    return sorted(extra)


def _is_current(fd: int, out: Path) -> bool:
    """Does OUT still name the directory `fd` was opened on?"""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(out))
    except OSError:
        return False


def _take(out: Path, fd: int, copy: bool) -> "BuildSnapshot":
    doc = _read_manifest(fd, out)
    mutable = tuple(m for m in doc.get("mutable", ()) if isinstance(m, str))
    dest = Path(tempfile.mkdtemp(prefix="hwgen-build-", dir=scratch_base())) if copy else None
    try:
        bad = []
        for rel, digest in doc["files"].items():
            if rel.startswith(mutable):
                continue
            try:
                have = _copy_one(fd, rel, None if rel in NOT_COPIED else dest)
            except (FileNotFoundError, NotADirectoryError):
                bad.append(f"{rel} is missing")
                continue
            except IsADirectoryError:
                bad.append(f"{rel} is a directory")
                continue
            if have is None:
                bad.append(f"{rel} is not a regular file (a named pipe or device)")
            elif have != digest:
                bad.append(f"{rel} was changed after the build")
        bad += [f"{rel} is not part of this build" for rel in _unlisted(fd, doc["files"])]
        if bad and not _is_current(fd, out):
            raise _Replaced
        if bad:
            more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
            raise BuildDirError(f"build directory {str(out)!r} does not match its {MANIFEST}: " + "; ".join(bad[:5])
                                + more + ". It was modified or mixed with another build's files; rebuild it with "
                                "`hwgen build MODEL -o OUT`.")
        return BuildSnapshot(out, dest, doc, fd)
    except BaseException:
        if dest is not None:
            shutil.rmtree(dest, ignore_errors=True)
        raise


def open_build(out, copy: bool = True) -> "BuildSnapshot":
    """A checked snapshot of the build directory `out` (see the module doc); copy=False only checks it (no copy,
    `dir` is None)."""
    out = Path(out).resolve()
    _check_path(out)
    for attempt in range(MAX_TRIES):
        try:
            fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:  # between the two renames of a rebuild's swap
            time.sleep(0.05 * (attempt + 1))
            continue
        except NotADirectoryError:
            _check_path(out)
            _fail(out, "is not a directory; it should be an hwgen build directory.")
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # a rebuild's swap waits until the copy is made (hwgen.outdir)
            if not _is_current(fd, out):  # swapped between our open and our lock: open the new OUT
                raise _Replaced
            snap = _take(out, fd, copy)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return snap
        except _Replaced:
            os.close(fd)
            time.sleep(0.02 * attempt)
        except BaseException:
            os.close(fd)
            raise
    _check_path(out)
    raise BuildDirError(f"{str(out)!r} was rebuilt {MAX_TRIES} times while this run was reading it; run again "
                        "when the builds have finished.")


def _cleanup(dir_: Path | None, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
    if dir_ is not None:
        shutil.rmtree(dir_, ignore_errors=True)


class BuildSnapshot:
    """A private copy of one build (see the module doc). `out`: the build directory as given (resolved), for
    messages; `dir`: the copy to read; `build_id`, `manifest`."""

    def __init__(self, out: Path, dir_: Path | None, manifest: dict, fd: int):
        self.out, self.dir, self.manifest = out, dir_, manifest
        self.build_id = str(manifest.get("build_id", ""))
        self._fd = fd
        self._finalizer = weakref.finalize(self, _cleanup, dir_, fd)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def shown(self, path) -> str:
        """A path inside the copy as the user knows it (inside OUT), for messages."""
        p = Path(path)
        if self.dir is not None:
            with contextlib.suppress(ValueError):
                return str(self.out / p.relative_to(self.dir))
        return str(p)

    def is_current(self) -> bool:
        """Is OUT still this build (not rebuilt since the snapshot was taken)?"""
        return _is_current(self._fd, self.out)

    def record(self, rel: str, update) -> str | None:
        """Read-modify-write the JSON file `rel` of this build (a mutable one, report/...): update(dict) -> dict.
        Returns None when written, else why not (OUT was rebuilt meanwhile, or cannot be written)."""
        parent, name = os.path.split(rel)
        rebuilt = f"{str(self.out)!r} was rebuilt during the run, and the figures belong to the build it replaced"
        try:
            dfd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=self._fd)
        except OSError as e:
            return rebuilt if not self.is_current() else f"{str(self.out / parent)!r} cannot be opened ({e.strerror})"
        try:
            fcntl.flock(dfd, fcntl.LOCK_EX)  # concurrent runs of this build: one read-modify-write at a time
            if not self.is_current():
                return rebuilt
            try:
                with os.fdopen(os.open(name, os.O_RDONLY | os.O_NONBLOCK, dir_fd=dfd), "rb") as f:
                    doc = json.loads(f.read().decode("utf-8")) if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else {}
            except (OSError, ValueError):
                doc = {}
            text = json.dumps(update(doc if isinstance(doc, dict) else {}), indent=2)
            tmp = f".{name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
            try:
                with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd), "w",
                               encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
                return f"{str(self.out / rel)!r} cannot be written ({e.strerror})"
            return None
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(dfd, fcntl.LOCK_UN)
            os.close(dfd)
