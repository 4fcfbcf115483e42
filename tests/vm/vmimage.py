# swapdrum VM test: build the guest's initramfs from Debian's packages.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# The guest is Debian's own kernel (linux-image-amd64) booted with an
# initramfs made here of: busybox (busybox-static) for the shell and
# the small tools, nbd-client and util-linux's mkswap/swapon/swapoff
# with their shared libraries (found with ldd), the memory test
# (tests/vm/memtest.c, built with gcc -static), swapdrum-attach from
# the build tree if a run needs it (with its libraries, from ldd: libnl
# and libc), the kernel modules for
# NBD and virtio-net with their dependencies (from modules.dep,
# decompressed; those the kernel has built in, as listed in
# modules.builtin, are skipped), and tests/vm/init as /init.  Each run appends a
# second, tiny cpio archive holding /vmtest.conf (the kernel unpacks
# concatenated archives in order).  Scenario M, whose server runs in the
# guest, adds nbdkit and the plugin with their shared libraries, and
# virtio_blk for the disk the pool lives on (SERVER_MODULES).
#
# Functions raise VmImageError with a one-line reason.

import glob
import gzip
import io
import lzma
import os
import re
import shutil
import stat
import subprocess

# Modules the guest loads; their dependencies come from modules.dep.
GUEST_MODULES = ["virtio_pci", "virtio_net", "nbd"]
# Scenario M: the server's disk is a virtio-blk device in the guest.
SERVER_MODULES = GUEST_MODULES + ["virtio_blk"]
# nbdkit, for a server in the guest: the first found.
NBDKIT = ["/usr/sbin/nbdkit", "/usr/bin/nbdkit"]
# Module parameters.
MODULE_PARAMS = {"nbd": "nbds_max=2"}
# Programs copied with their shared libraries; the first one found of
# each list is taken, under the name given as key.
GUEST_PROGRAMS = {
    "/sbin/nbd-client": ["/usr/sbin/nbd-client", "/sbin/nbd-client"],
    "/sbin/mkswap": ["/usr/sbin/mkswap", "/sbin/mkswap"],
    "/sbin/swapon": ["/usr/sbin/swapon", "/sbin/swapon"],
    "/sbin/swapoff": ["/usr/sbin/swapoff", "/sbin/swapoff"],
}
BUSYBOX = ["/bin/busybox", "/usr/bin/busybox"]


class VmImageError(Exception):
    pass


def find_kernel(kver=None):
    """Returns (kernel version, vmlinuz path): KVER if given, else the
    newest /boot/vmlinuz-* that has a /lib/modules directory."""
    if kver:
        cands = ["/boot/vmlinuz-" + kver]
    else:
        cands = sorted(glob.glob("/boot/vmlinuz-*"), key=_version_key)
    for path in reversed(cands):
        v = path[len("/boot/vmlinuz-"):]
        if os.path.exists(path) and os.path.isdir("/lib/modules/" + v):
            return v, path
    raise VmImageError("no kernel: install linux-image-amd64 "
                       "(.ci/deps vm)")


def _version_key(path):
    return [int(x) if x.isdigit() else x
            for x in re.split(r"(\d+)", path)]


def module_list(kver, names=GUEST_MODULES):
    """Returns (the modules to load, dependencies first, as paths
    relative to /lib/modules/KVER; the names of those of NAMES that the
    kernel has built in).  Debian 12's kernel has virtio_pci as a
    module, Debian 13's builds it in (modules.builtin lists it)."""
    base = "/lib/modules/" + kver
    deps = {}
    with open(os.path.join(base, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    by_name = {_module_name(m): m for m in deps}
    builtin = set()
    try:
        with open(os.path.join(base, "modules.builtin")) as f:
            builtin = {_module_name(line.strip()) for line in f}
    except FileNotFoundError:
        pass
    order, built_in = [], []

    def visit(mod):
        if mod in order:
            return
        for d in deps.get(mod, []):
            visit(d)
        order.append(mod)

    for name in names:
        if name in by_name:
            visit(by_name[name])
        elif name in builtin:
            built_in.append(name)
        else:
            raise VmImageError("kernel %s has no module %s (neither in "
                               "modules.dep nor in modules.builtin)"
                               % (kver, name))
    return order, built_in


def _module_name(path):
    name = os.path.basename(path)
    return re.sub(r"\.ko(\.(xz|zst|gz))?$", "", name).replace("-", "_")


def read_module(path):
    """Returns the module at PATH uncompressed (.ko, .ko.xz, .ko.gz,
    .ko.zst), since busybox insmod takes plain files only."""
    if path.endswith(".xz"):
        return lzma.decompress(_read(path))
    if path.endswith(".gz"):
        return gzip.decompress(_read(path))
    if path.endswith(".zst"):
        try:
            return subprocess.run(["zstd", "-dc", path], check=True,
                                  capture_output=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise VmImageError("%s: cannot decompress (zstd): %s"
                               % (path, e))
    return _read(path)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def shared_libraries(prog):
    """Returns the absolute paths of the shared libraries PROG needs,
    its dynamic loader included (none for a static program)."""
    r = subprocess.run(["ldd", prog], capture_output=True, text=True)
    libs = []
    for line in r.stdout.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def build_memtest(src, out):
    """Compiles the memory test with gcc -static into OUT."""
    cmd = ["gcc", "-static", "-O2", "-Wall", "-Wextra", "-o", out, src]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise VmImageError("gcc -static memtest.c failed (install gcc "
                           "and libc6-dev): " + r.stderr.strip()[-400:])


class Cpio:
    """A newc cpio archive (the initramfs format) built in memory."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b""):
        name = name.lstrip("/").encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0,
            len(name), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name)
        self._pad()
        self.buf.write(data)
        self._pad()

    def _pad(self):
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def mkdir(self, path):
        """Adds directory PATH and its missing parents."""
        if path in ("", "/"):
            return
        parent = os.path.dirname(path.rstrip("/"))
        if parent not in ("", "/"):
            self.mkdir(parent)
        if path not in self.dirs:
            self.dirs.add(path)
            self._entry(path, stat.S_IFDIR | 0o755)

    def file(self, path, data, mode=0o644):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path, target):
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def gzipped(self):
        self._entry("TRAILER!!!", 0)
        return gzip.compress(self.buf.getvalue(), 6)


def _first_existing(paths, package):
    for p in paths:
        if os.path.exists(p):
            return p
    raise VmImageError("%s not found: install %s (.ci/deps vm)"
                       % (paths[0], package))


def find_nbdkit():
    """Returns the path of the host's nbdkit, for a server in the
    guest."""
    found = shutil.which("nbdkit")
    return found or _first_existing(NBDKIT, "nbdkit")


def build_base(out, kver, init_src, memtest_bin, extra=None,
               modules=GUEST_MODULES):
    """Writes the gzipped base initramfs to OUT, with the programs of
    EXTRA (a dict: path in the guest -> path here; a shared object such
    as a plugin goes the same way) and their shared libraries besides
    the usual ones, and the kernel modules MODULES (names) with their
    dependencies.  Returns the MODULES text for
    /vmtest.conf (file and parameters per line) and the parameters of
    built-in modules for the kernel's command line
    (MODULE.PARAM=VALUE...)."""
    cpio = Cpio()
    for d in ("/proc", "/sys", "/dev", "/tmp", "/etc"):
        cpio.mkdir(d)
    busybox = _first_existing(BUSYBOX, "busybox-static")
    if shared_libraries(busybox):
        raise VmImageError(busybox + " is not static: install "
                           "busybox-static")
    cpio.file("/bin/busybox", _read(busybox), 0o755)
    applets = subprocess.run([busybox, "--list"], capture_output=True,
                             text=True, check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            cpio.symlink("/bin/" + a, "busybox")
    libs = set()
    for dest, cands in GUEST_PROGRAMS.items():
        package = "nbd-client" if "nbd" in dest else "util-linux"
        src = _first_existing(cands, package)
        cpio.file(dest, _read(src), 0o755)
        libs.update(shared_libraries(src))
    for dest, src in (extra or {}).items():
        if not os.path.exists(src):
            raise VmImageError("%s not found (make)" % src)
        cpio.file(dest, _read(src), 0o755)
        libs.update(shared_libraries(src))
    for lib in sorted(libs):
        # Under the name the loader asks for, with the real file's
        # contents (symlinks resolved).
        cpio.file(lib, _read(os.path.realpath(lib)), 0o755)
    cpio.file("/bin/memtest", _read(memtest_bin), 0o755)
    cpio.file("/init", _read(init_src), 0o755)
    lines = []
    paths, built_in = module_list(kver, modules)
    for mod in paths:
        plain = re.sub(r"\.(xz|zst|gz)$", "", mod)
        data = read_module(os.path.join("/lib/modules", kver, mod))
        cpio.file("/lib/modules/" + plain, data)
        params = MODULE_PARAMS.get(_module_name(mod), "")
        lines.append((plain + " " + params).strip())
    with open(out, "wb") as f:
        f.write(cpio.gzipped())
    cmdline = " ".join("%s.%s" % (name, p) for name in built_in
                       for p in MODULE_PARAMS.get(name, "").split())
    return "\n".join(lines), cmdline


def conf_archive(settings):
    """Returns a gzipped cpio archive holding /vmtest.conf with the
    shell assignments of SETTINGS (a dict)."""
    text = "".join("%s=%s\n" % (k, _shell_quote(v))
                   for k, v in settings.items())
    cpio = Cpio()
    cpio.file("/vmtest.conf", text.encode())
    return cpio.gzipped()


def _shell_quote(v):
    return "'" + str(v).replace("'", "'\\''") + "'"
