"""Confine a sandbox process to what it needs: its pipes, its libraries, nothing else.

`sandbox.py` loads this file by path (it imports only the standard library and
py_mini_racer, never the project) and calls it in two steps:

1. `isolate()`, first thing, while the process has a single thread (namespaces belong
   to a thread, and unshare cannot move the others):
   - as root: a new mount, network and IPC namespace. The network namespace has only a
     loopback interface, and it is down: nothing is reachable. In the mount namespace
     every mount is read-only and nosuid; /tmp, /var/tmp and /dev/shm are small private
     tmpfs owned by the sandbox user (the only writable places); /proc holds only the
     sandbox's own process, so no other is even visible; and a directory the sandbox
     user cannot enter but must read from (pyenv's Python under a 0700 /root) is shown
     through a tmpfs that holds only that directory, bind-mounted read-only.
   - not root: the same in a new user namespace when the kernel allows unprivileged
     ones; otherwise nothing here.
2. `lock()`, once V8 is initialised (it reads its ICU data then) and before the first
   run: drop to the `fastn-sandbox` user (setgroups([]), setgid, setuid) when root;
   RLIMIT_NOFILE, RLIMIT_NPROC (only with a user of its own: the limit counts every
   process of the user), RLIMIT_CORE 0, PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS; then a
   seccomp filter, on every thread, that refuses socket() (so no network whatever the
   namespace, and no Unix socket to a database on the filesystem; socketpair stays,
   asyncio's loop needs it), fork, vfork, clone without CLONE_THREAD or with a
   namespace flag, clone3 (ENOSYS, so that glibc's pthread_create falls back to clone,
   whose flags a filter can see), execve, execveat, ptrace and process_vm_*, signals
   to any process but itself (the sandboxes share a user), pidfds, new namespaces and
   mounts, io_uring (it can open sockets behind seccomp's back), bpf, userfaultfd,
   perf_event_open and the kernel keyring.

All of this costs a few milliseconds once per sandbox process, never per run.
Whatever could not be applied is listed in `Confinement.missing`; the sandbox reports
it in its first `ready` frame and the pool logs it once per process.

`probe()` is the test suite's window into a confined process (`sandbox.py --probe`,
an argument only the parent can give): it tries what an escaped workflow would try
and reports the outcome of each attempt.
"""

from __future__ import annotations

import ctypes
import errno
import os
import pwd
import resource
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

SANDBOX_USER = "fastn-sandbox"
# Used only when running as root without the user (scripts/bootstrap.sh creates it).
FALLBACK_USER = "nobody"
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - we mount over them
PRIVATE_TMP_OPTIONS = "size=16m,nr_inodes=4096,mode=0700"
# stdin, stdout, stderr, the event loop's epoll and self-pipe, /proc reads, V8's own.
MAX_OPEN_FILES = 64
# Every thread of every sandbox (they share the user) counts: V8 and the watcher need a
# few per sandbox, and there are at most a few hundred sandboxes on a machine.
MAX_PROCESSES = 4096

_libc = ctypes.CDLL(None, use_errno=True)

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
# The same number on every architecture (added after the tables were unified).
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
CLONE_THREAD = 0x00010000
# CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NEW_ANY = 0x80 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000
CLONE_NEW_ANY |= 0x10000000 | 0x20000000 | 0x40000000

# seccomp: classic BPF over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6]}.
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class _Arch:
    audit: int
    seccomp_nr: int
    mount_setattr_nr: int
    clone: int
    clone3: int
    refused: dict[str, int]
    # Signals: kill(pid) and rt_sigqueueinfo(pid) only to itself (or kill(0), its own
    # process group); tgkill and rt_tgsigqueueinfo only within itself. Every sandbox
    # runs as the same user, which could otherwise signal the others.
    signal_self: dict[str, int]
    kill: int


_COMMON_REFUSED = {
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "io_uring_setup": 425,
    "pidfd_open": 434,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
}
_ARCHES = {
    "x86_64": _Arch(
        audit=0xC000003E,
        seccomp_nr=317,
        mount_setattr_nr=442,
        clone=56,
        clone3=435,
        refused={
            "socket": 41,
            "fork": 57,
            "vfork": 58,
            "execve": 59,
            "execveat": 322,
            "ptrace": 101,
            "process_vm_readv": 310,
            "process_vm_writev": 311,
            "unshare": 272,
            "setns": 308,
            "mount": 165,
            "umount2": 166,
            "pivot_root": 155,
            "chroot": 161,
            "bpf": 321,
            "userfaultfd": 323,
            "perf_event_open": 298,
            "keyctl": 250,
            "add_key": 248,
            "request_key": 249,
            "tkill": 200,
            **_COMMON_REFUSED,
        },
        signal_self={"rt_sigqueueinfo": 129, "tgkill": 234, "rt_tgsigqueueinfo": 297},
        kill=62,
    ),
    "aarch64": _Arch(
        audit=0xC00000B7,
        seccomp_nr=277,
        mount_setattr_nr=442,
        clone=220,
        clone3=435,
        refused={
            "socket": 198,
            "execve": 221,
            "execveat": 281,
            "ptrace": 117,
            "process_vm_readv": 270,
            "process_vm_writev": 271,
            "unshare": 97,
            "setns": 268,
            "mount": 40,
            "umount2": 39,
            "pivot_root": 41,
            "chroot": 51,
            "bpf": 280,
            "userfaultfd": 282,
            "perf_event_open": 241,
            "keyctl": 219,
            "add_key": 217,
            "request_key": 218,
            "tkill": 130,
            **_COMMON_REFUSED,
        },
        signal_self={"rt_sigqueueinfo": 138, "tgkill": 131, "rt_tgsigqueueinfo": 240},
        kill=129,
    ),
}


@dataclass
class Confinement:
    """What `isolate` set up, for `lock` to finish; `missing` names what is not in force."""

    uid: int | None = None  # the user to drop to (None: stay as we are)
    gid: int | None = None
    user: str = ""
    user_namespace: bool = False  # not root, in a user namespace of our own
    missing: list[str] = field(default_factory=list)


def _oserror(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    if (
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        )
        != 0
    ):
        raise _oserror(f"mount {target}")


def _mount_setattr_recursive(arch: _Arch | None, path: str, attributes: int) -> None:
    if arch is None:
        raise OSError(errno.ENOSYS, "mount_setattr: unknown architecture")
    attr = struct.pack("<4Q", attributes, 0, 0, 0)
    buffer = ctypes.create_string_buffer(attr, len(attr))
    result = _libc.syscall(
        ctypes.c_long(arch.mount_setattr_nr),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(path.encode()),
        ctypes.c_uint(AT_RECURSIVE),
        buffer,
        ctypes.c_size_t(len(attr)),
    )
    if result != 0:
        raise _oserror("mount_setattr")


def _prctl(option: int, value: int = 0) -> int:
    result = _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)
    if result < 0:
        raise _oserror(f"prctl {option}")
    return result


def _sandbox_user() -> tuple[str, int, int] | None:
    for name in (SANDBOX_USER, FALLBACK_USER):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return name, entry.pw_uid, entry.pw_gid
    return None


def _can_enter(path: str, uid: int, gid: int) -> bool:
    """Can `uid` (with only `gid`, no supplementary groups) traverse directory `path`?"""
    info = os.stat(path)
    if info.st_uid == uid:
        return bool(info.st_mode & 0o100)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


def _needed_paths() -> list[str]:
    """The directories the sandbox reads after dropping privileges: Python's own
    files, the site-packages holding py_mini_racer, and the runtime's directory."""
    candidates = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.abspath(__file__))}
    candidates.update(entry for entry in sys.path if entry)
    existing = sorted(os.path.realpath(c) for c in candidates if os.path.isdir(c))
    outermost: list[str] = []
    for path in existing:  # sorted: a parent comes before its children
        if not any(path == kept or path.startswith(kept + "/") for kept in outermost):
            outermost.append(path)
    return outermost


def _blocked_ancestor(path: str, uid: int, gid: int) -> str | None:
    """The outermost directory above `path` that `uid` cannot enter, if any."""
    parts = path.strip("/").split("/")
    for depth in range(len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        if not _can_enter(ancestor, uid, gid):
            return ancestor
    return None


def _show_through(uid: int, gid: int) -> None:
    """Make the needed directories readable behind an ancestor the user cannot enter
    (e.g. pyenv under a 0700 /root): a tmpfs over that ancestor holding only them."""
    groups: dict[str, list[str]] = {}
    for path in _needed_paths():
        blocked = _blocked_ancestor(path, uid, gid)
        if blocked is not None and blocked != "/":
            groups.setdefault(blocked, []).append(path)
    for blocked, paths in groups.items():
        # Reach the real directories by descriptor once the tmpfs hides them.
        handles = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in paths]
        umask = os.umask(0o022)  # the directories leading to them must be enterable
        try:
            _mount("tmpfs", blocked, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            for path, handle in handles:
                os.makedirs(path, mode=0o755, exist_ok=True)
                _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        finally:
            os.umask(umask)
            for _path, handle in handles:
                os.close(handle)


def _private_filesystem(
    arch: _Arch | None, uid: int, gid: int, missing: list[str], *, as_root: bool
) -> None:
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if as_root:
        _show_through(uid, gid)
    try:
        _mount_setattr_recursive(arch, "/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)
    except OSError as exc:  # before Linux 5.12; the user's permissions still apply
        missing.append(f"read-only mounts ({exc})")
    owner = f",uid={uid},gid={gid}" if as_root else ""
    for path in PRIVATE_TMP:
        if os.path.isdir(path):
            flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
            _mount("tmpfs", path, "tmpfs", flags, PRIVATE_TMP_OPTIONS + owner)
    try:
        _private_proc()
    except OSError as exc:
        missing.append(f"a private /proc ({exc})")


def _private_proc() -> None:
    """A /proc holding this process alone (and `self`): the console's processes and the
    other sandboxes cannot even be named, so neither can their environ or memory (without
    root, the console's own processes run as the same user)."""
    pid = os.getpid()
    tree = _libc.syscall(
        ctypes.c_long(SYS_OPEN_TREE),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(f"/proc/{pid}".encode()),
        ctypes.c_uint(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
    )
    if tree < 0:
        raise _oserror("open_tree /proc/self")
    try:
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
        _mount("tmpfs", "/proc", "tmpfs", flags, "size=64k,mode=0755")
        os.mkdir(f"/proc/{pid}", 0o555)
        os.symlink(str(pid), "/proc/self")
        if (
            _libc.syscall(
                ctypes.c_long(SYS_MOVE_MOUNT),
                ctypes.c_int(tree),
                ctypes.c_char_p(b""),
                ctypes.c_int(AT_FDCWD),
                ctypes.c_char_p(f"/proc/{pid}".encode()),
                ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
            )
            != 0
        ):
            raise _oserror("move_mount /proc/self")
        _mount(None, "/proc", None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
    finally:
        os.close(tree)


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def isolate() -> Confinement:
    """Step 1, while single-threaded: namespaces and the private filesystem view."""
    arch = _ARCHES.get(os.uname().machine)
    confinement = Confinement()
    if os.geteuid() == 0:
        user = _sandbox_user()
        if user is None:
            confinement.missing.append(
                f"a separate user (neither {SANDBOX_USER} nor {FALLBACK_USER} exists: "
                "the sandbox runs as root)"
            )
            uid, gid = 0, 0
        else:
            confinement.user, uid, gid = user
            confinement.uid, confinement.gid = uid, gid
            if confinement.user != SANDBOX_USER:
                confinement.missing.append(
                    f"its own user ({SANDBOX_USER} does not exist, so it runs as "
                    f"{confinement.user}; scripts/bootstrap.sh creates it)"
                )
        try:
            os.unshare(os.CLONE_NEWNS | os.CLONE_NEWNET | os.CLONE_NEWIPC)
        except OSError as exc:
            confinement.missing.append(f"network and mount namespaces (unshare: {exc.strerror})")
            return confinement
        try:
            _private_filesystem(arch, uid, gid, confinement.missing, as_root=True)
        except OSError as exc:
            confinement.missing.append(f"a private filesystem view ({exc})")
        return confinement

    uid, gid = os.getuid(), os.getgid()
    confinement.missing.append(
        f"a separate user (not started as root, it runs as uid {uid} and can read what "
        "that user can: var/master.key, var/secret_key, the SQLite database)"
    )
    try:
        os.unshare(os.CLONE_NEWUSER | os.CLONE_NEWNS | os.CLONE_NEWNET | os.CLONE_NEWIPC)
    except OSError as exc:
        confinement.missing.append(
            "network and mount namespaces (no unprivileged user namespaces: "
            f"{exc.strerror}; seccomp still refuses sockets)"
        )
        return confinement
    confinement.user_namespace = True
    try:
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
        _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
        _private_filesystem(arch, uid, gid, confinement.missing, as_root=False)
    except OSError as exc:
        confinement.missing.append(f"a private filesystem view ({exc})")
    return confinement


def _seccomp_program(arch: _Arch, pid: int) -> bytes:
    def stmt(code: int, k: int) -> bytes:
        return struct.pack("<HBBI", code, 0, 0, k)

    def jump(code: int, k: int, true: int, false: int) -> bytes:
        return struct.pack("<HBBI", code, true, false, k)

    eperm = _RET_ERRNO | errno.EPERM
    program = [
        stmt(_BPF_LD_W_ABS, 4),  # arch
        jump(_BPF_JEQ_K, arch.audit, 1, 0),
        stmt(_BPF_RET_K, _RET_KILL_PROCESS),
        stmt(_BPF_LD_W_ABS, 0),  # syscall number
    ]
    if arch.audit == _ARCHES["x86_64"].audit:
        # The x32 ABI reuses the architecture value with the numbers offset.
        program += [
            jump(_BPF_JGE_K, _X32_SYSCALL_BIT, 0, 1),
            stmt(_BPF_RET_K, _RET_ERRNO | errno.ENOSYS),
        ]
    for number in sorted(set(arch.refused.values())):
        program += [jump(_BPF_JEQ_K, number, 0, 1), stmt(_BPF_RET_K, eperm)]
    # The pid never changes: this process can start no other.
    for number in sorted(arch.signal_self.values()):
        program += [
            jump(_BPF_JEQ_K, number, 0, 4),
            stmt(_BPF_LD_W_ABS, 16),  # args[0]: the target process
            jump(_BPF_JEQ_K, pid, 1, 0),
            stmt(_BPF_RET_K, eperm),
            stmt(_BPF_RET_K, _RET_ALLOW),
        ]
    program += [
        jump(_BPF_JEQ_K, arch.kill, 0, 5),
        stmt(_BPF_LD_W_ABS, 16),
        jump(_BPF_JEQ_K, pid, 2, 0),
        jump(_BPF_JEQ_K, 0, 1, 0),
        stmt(_BPF_RET_K, eperm),
        stmt(_BPF_RET_K, _RET_ALLOW),
    ]
    program += [
        jump(_BPF_JEQ_K, arch.clone3, 0, 1),
        stmt(_BPF_RET_K, _RET_ERRNO | errno.ENOSYS),
        # clone: a thread (CLONE_THREAD) in no new namespace, or nothing.
        jump(_BPF_JEQ_K, arch.clone, 0, 5),
        stmt(_BPF_LD_W_ABS, 16),  # low half of args[0], the flags
        jump(_BPF_JSET_K, CLONE_NEW_ANY, 2, 0),
        jump(_BPF_JSET_K, CLONE_THREAD, 0, 1),
        stmt(_BPF_RET_K, _RET_ALLOW),
        stmt(_BPF_RET_K, eperm),
        stmt(_BPF_RET_K, _RET_ALLOW),
    ]
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install_seccomp(arch: _Arch) -> None:
    code = _seccomp_program(arch, os.getpid())
    buffer = ctypes.create_string_buffer(code, len(code))
    program = _SockFprog(len(code) // 8, ctypes.addressof(buffer))
    result = _libc.syscall(
        ctypes.c_long(arch.seccomp_nr),
        ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
        ctypes.c_ulong(SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(program),
    )
    if result != 0:  # TSYNC answers the id of a thread it could not synchronise
        raise _oserror("seccomp") if result < 0 else OSError(errno.EBUSY, "seccomp: TSYNC")


def _drop_capabilities() -> None:
    """In a user namespace the process holds every capability over it: give them up."""
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = bytes(24)  # two empty {effective, permitted, inheritable}
    if _libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)) != 0:
        raise _oserror("capset")


def lock(confinement: Confinement) -> None:
    """Step 2, after V8 is initialised and before the first run: drop the user, set the
    limits and the flags, install the seccomp filter (on every thread)."""
    if confinement.uid is not None and confinement.gid is not None:
        os.setgroups([])
        os.setgid(confinement.gid)
        os.setuid(confinement.uid)  # as root: real, effective and saved ids, for good
        # Counts every thread of the user, so only with a user of our own.
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
        # Not dumpable: no core, and /proc/<pid>/mem, environ, fd... of this process are
        # closed to the other sandboxes, which run as the same user.
        _prctl(PR_SET_DUMPABLE, 0)
    elif confinement.user_namespace:
        _drop_capabilities()
    files = MAX_OPEN_FILES
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        files = min(files, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    arch = _ARCHES.get(os.uname().machine)
    if arch is None:
        confinement.missing.append(
            f"the seccomp filter (no syscall table for {os.uname().machine}): "
            "sockets and new processes are not refused"
        )
        return
    try:
        _install_seccomp(arch)
    except OSError as exc:
        confinement.missing.append(f"the seccomp filter ({exc}): sockets and processes allowed")


# ---- the test suite's probe ------------------------------------------------------------------


def _attempt(action: Any) -> str:
    try:
        action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return "ok"


def _read(path: str) -> None:
    with open(path, "rb") as handle:
        handle.read(1)


def _write(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"written by the sandbox probe\n")
    finally:
        os.close(fd)


def _connect(host: str, port: int) -> None:
    import socket

    with socket.create_connection((host, port), timeout=2):
        pass


def _unix_socket() -> None:
    import socket

    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()


def _socketpair() -> None:
    import socket

    left, right = socket.socketpair()
    left.close()
    right.close()


def _fork() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - only if the filter failed
        os._exit(0)
    os.waitpid(pid, 0)


def _spawn() -> None:
    pid = os.posix_spawn("/bin/true", ["/bin/true"], {})
    os.waitpid(pid, 0)


def _thread() -> None:
    import threading

    done = []
    worker = threading.Thread(target=lambda: done.append(1))
    worker.start()
    worker.join()
    if done != [1]:
        raise OSError(errno.EAGAIN, "thread did not run")


def _exec() -> None:
    os.execv("/bin/true", ["/bin/true"])  # noqa: S606 - must be refused


def probe(spec: dict[str, Any]) -> dict[str, Any]:
    """Try what an escaped workflow would; report each outcome ("ok" or an errno name)."""
    report: dict[str, Any] = {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "dumpable": _prctl(PR_GET_DUMPABLE),
        "no_new_privs": _prctl(PR_GET_NO_NEW_PRIVS),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "nproc": list(resource.getrlimit(resource.RLIMIT_NPROC)),
        "core": list(resource.getrlimit(resource.RLIMIT_CORE)),
    }
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Seccomp:"):
                report["seccomp"] = int(line.split()[1])
    report["read"] = {path: _attempt(lambda p=path: _read(p)) for path in spec.get("read", [])}
    report["write"] = {path: _attempt(lambda p=path: _write(p)) for path in spec.get("write", [])}
    report["connect"] = {
        f"{host}:{port}": _attempt(lambda h=host, p=port: _connect(h, p))
        for host, port in spec.get("connect", [])
    }
    report["signal"] = {
        str(pid): _attempt(lambda p=pid: os.kill(p, 0)) for pid in spec.get("signal", [])
    }
    report["signal_self"] = _attempt(lambda: os.kill(os.getpid(), 0))
    report["unix_socket"] = _attempt(_unix_socket)
    report["socketpair"] = _attempt(_socketpair)
    report["thread"] = _attempt(_thread)
    report["fork"] = _attempt(_fork)
    report["spawn"] = _attempt(_spawn)
    report["exec"] = _attempt(_exec)
    return report
