"""Atomic replacement of a build directory: `hwgen build` writes into a temporary sibling, then renames it to OUT.

    with staged_build(out) as work:      # refuses a second concurrent build into `out`, and foreign directories
        ... write everything into `work` ...
    # on success: work/manifest.json written, files hwgen did not write carried over from the old OUT, work -> OUT
    # on failure: work removed, the old OUT untouched

Rules (see also hwgen.manifest):
- OUT may be missing, empty, or an hwgen build directory; a non-empty directory that is not one is refused, as is a
  file, and so is an OUT inside another build directory (a rebuild of that one would delete it). A missing parent
  directory is created; OUT gets the usual permissions (0777 less the umask), not a temporary directory's 0700.
- While a build holds OUT (an exclusive flock on `.<OUT name>.hwgen-lock` beside OUT, removed when the build ends),
  a second build into OUT is refused at once with BuildDirError (exit 2).
- Files in the old OUT that hwgen did not write (not listed in its manifest.json) are copied into the new OUT. A
  foreign file in params/, rtl/ or cpu/ (directories the runtime reads, see manifest.STRICT_DIRS) is refused
  before building: move it away. A foreign file where the new build writes a file of the same name is kept
  beside it as `<name>.user-<n>`. For an old build directory without a manifest, params/, rtl/, cpu/, report/,
  hwgraph.* and old scratch directories count as hwgen's, and so does any file the new build writes again;
  every other file is carried over.
- Anything under the old OUT that is not a regular file, a link or a directory (a named pipe, a socket, a device)
  is refused before building: it cannot be carried over (reading a pipe would block).
- The swap is two renames (OUT -> hidden old name, temporary -> OUT; undone if the second fails), then the old
  tree is removed. A run reads OUT through one directory descriptor into its own copy (hwgen.snapshot), holding a
  shared flock on OUT while it copies; the swap takes it exclusive first, so it waits for the copies in progress
  (READERS_WAIT at most). A run reads the old build or the new one, never a mix, and one that starts between the
  renames, or outlasts the wait, tries again.
- The temporary siblings of a killed build are removed by the next build of OUT: exactly `.<OUT name>.building-XXXXXXXX`
  and `.<OUT name>.old-XXXXXXXX` (names compared as strings, never as glob patterns: an OUT named `gb[12]` does not
  touch the siblings of `gb1`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from hwgen.errors import BuildDirError
from hwgen.fileops import LockBusy, file_lock
from hwgen.manifest import MANIFEST, STRICT_DIRS, is_build_dir, read_manifest, write_manifest

SCRATCH = ("rtlsim/", "fifo_sizing/")  # run-time scratch of older versions: never carried over
OLD_HWGEN = STRICT_DIRS + ("report/", "hwgraph.json", "hwgraph.onnx") + SCRATCH


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.hwgen-lock"


def _entries(root: Path) -> list[str]:
    """Files and symlinks (and any other non-directory) under root (relative POSIX paths)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found.append(Path(dirpath, n).relative_to(root).as_posix())
    return sorted(found)


def enclosing_build(path: Path) -> Path | None:
    """The nearest build directory strictly above `path`, if any."""
    from hwgen.manifest import MANIFEST

    for d in Path(path).resolve().parents:
        if (d / MANIFEST).is_file() or (d / "hwgraph.json").is_file():
            return d
    return None


def _special(out: Path, rels) -> list[str]:
    """Those of `rels` (under out) that are neither regular files, links nor directories."""
    bad = []
    for rel in rels:
        with contextlib.suppress(OSError):
            m = os.lstat(out / rel).st_mode
            if not (stat.S_ISREG(m) or stat.S_ISLNK(m) or stat.S_ISDIR(m)):
                bad.append(rel)
    return bad


def foreign_files(out: Path) -> list[str]:
    """Files in build directory `out` that hwgen did not write (relative paths)."""
    doc = read_manifest(out)
    if doc is not None:
        ours = set(doc["files"]) | {MANIFEST}
        return [f for f in _entries(out) if f not in ours and not f.startswith(SCRATCH)]
    return [f for f in _entries(out) if not f.startswith(OLD_HWGEN) and not _old_csim_file(f)]


def _old_csim_file(rel: str) -> bool:
    """The C-simulation library (and its source stamp) that older versions compiled into OUT/hls/."""
    return rel.startswith("hls/") and (rel.endswith(".so") or rel.endswith(".so.src"))


def _check_replaceable(out: Path) -> tuple[list[str], bool]:
    """(files to carry over, whether OUT has a manifest); refuses what must not be replaced."""
    if out.exists() and not out.is_dir():
        raise BuildDirError(f"{str(out)!r} is a file; give a directory to build into.")
    if not out.is_dir() or not any(out.iterdir()):
        return [], False
    if not is_build_dir(out):
        raise BuildDirError(f"{str(out)!r} is a non-empty directory that is not an hwgen build directory; refusing to "
                            "replace it. Build into a new or empty directory.")
    foreign = foreign_files(out)
    special = _special(out, foreign)
    if special:
        raise BuildDirError(f"{str(out)!r} holds {', '.join(special[:5])}, which is not a regular file (a named pipe, "
                            "socket or device): hwgen cannot carry it over into the new build. Move it away, then "
                            "build again.")
    has_manifest = read_manifest(out) is not None
    if has_manifest:
        strict = [f for f in foreign if f.startswith(STRICT_DIRS)]
        if strict:
            raise BuildDirError(f"{str(out)!r} holds files hwgen did not write where builds keep their own files: "
                                f"{', '.join(strict[:5])}. Move them away, then build again.")
    return foreign, has_manifest


def _carry_over(old: Path, new: Path, foreign: list[str], known: bool, log) -> None:
    """Copy the foreign files of `old` into `new` (copies: the old tree stays intact until the swap succeeded).
    known: `foreign` comes from a manifest; else (an old build directory) a file the new build writes too is
    taken to be an older version of hwgen's own and is not kept."""
    for rel in foreign:
        src, dst = old / rel, new / rel
        if not os.path.lexists(src):
            continue
        if os.path.lexists(dst):
            if not known:
                continue
            n = 1
            while os.path.lexists(dst.with_name(f"{dst.name}.user-{n}")):
                n += 1
            dst = dst.with_name(f"{dst.name}.user-{n}")
            if log:
                log(f"kept your file {rel} as {dst.relative_to(new).as_posix()} (the build writes {rel})")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)


READERS_WAIT = 10.0  # seconds the swap waits for runs that are copying OUT (hwgen.snapshot) to finish


@contextlib.contextmanager
def _no_readers(out: Path):
    """An exclusive flock on OUT itself (the directory), which runs hold shared while they copy it: the swap waits
    for the copies in progress (at most READERS_WAIT seconds; a run still copying then sees OUT replaced and reads
    the new build). No lock file: the directory is the lock."""
    import fcntl
    import time

    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + READERS_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the lock


def _swap(work: Path, out: Path) -> None:
    """Rename `work` to `out`, replacing a directory `out`; on failure `out` is left as it was."""
    if not out.is_dir():
        os.rename(work, out)
        return
    holder = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    with _no_readers(out):
        os.rename(out, holder / "out")
        try:
            os.rename(work, out)
        except BaseException:
            os.rename(holder / "out", out)
            raise
    shutil.rmtree(holder, ignore_errors=True)


def _remove_stale_siblings(out: Path) -> None:
    """Remove the temporary siblings of a build that was killed (SIGKILL, power loss) before it could clean up.
    Only the holder of OUT's lock creates them, and the caller holds it now, so any that exist are stale. Their
    names are matched exactly (OUT's name is text, never a pattern)."""
    sibling = re.compile(rf"^\.{re.escape(out.name)}\.(building|old)-[A-Za-z0-9_]{{8}}$")
    for name in os.listdir(out.parent):
        d = out.parent / name
        if sibling.match(name) and d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)


def _make_work_dir(out: Path) -> Path:
    """A new temporary sibling of OUT, with the permissions a directory gets (0777 less the umask), since it
    becomes OUT."""
    for _ in range(100):
        d = out.parent / f".{out.name}.building-{secrets.token_hex(4)}"
        try:
            os.mkdir(d, 0o777)
            return d
        except FileExistsError:
            continue
    raise BuildDirError(f"cannot create a temporary directory beside {str(out)!r}; remove its .building- siblings.")


@contextlib.contextmanager
def staged_build(out, log=print):
    """Yield a temporary sibling directory to build into; on success it atomically becomes `out` (see module doc)."""
    out = Path(out).resolve()
    inside = enclosing_build(out)
    if inside is not None:
        raise BuildDirError(f"-o {str(out)!r} is inside the hwgen build directory {str(inside)!r}, which a rebuild "
                            "replaces as a whole (and which must hold only its own files); build elsewhere.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildDirError(f"cannot create the parent directory of {str(out)!r}: {e.strerror}.") from None
    try:
        lock = file_lock(lock_path(out), blocking=False, remove=True)
        lock.__enter__()
    except LockBusy:
        raise BuildDirError(f"another hwgen build is writing {str(out)!r} right now (it holds "
                            f"{str(lock_path(out))!r}); wait for it to finish or build elsewhere.") from None
    except OSError as e:
        raise BuildDirError(f"cannot write beside {str(out)!r} ({e.strerror}); choose a writable directory.") from None
    try:
        _remove_stale_siblings(out)
        foreign, known = _check_replaceable(out)
        try:
            work = _make_work_dir(out)
        except OSError as e:
            raise BuildDirError(f"cannot write into {str(out.parent)!r} ({e.strerror}); "
                                "choose a writable directory.") from None
        try:
            yield work
            write_manifest(work)  # before the carry-over: foreign files are not hwgen's
            _carry_over(out, work, foreign, known, log)
            _swap(work, out)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    finally:
        lock.__exit__(None, None, None)
