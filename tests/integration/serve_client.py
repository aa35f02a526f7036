#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A client of the `sealfs serve` control socket, written from
docs/FORMAT.md ("Control protocol") alone, to check that the section is
enough to mount without the C++ client. Standard library only; mounting
needs root (mount(2) through ctypes). Not reentrant across threads that
share one connection; each call opens its own.

  serve_client.py mount [--read-init] [-o OPTIONS] IMAGE MOUNTPOINT
                                                        prints the session id
                        (--read-init: a broken caller, which reads the
                        kernel's INIT from /dev/fuse before kAttach)
  serve_client.py list                                  prints the JSON listing
  serve_client.py umount MOUNTPOINT
  serve_client.py refusal CASE    sends a malformed request, prints ERRNO TEXT

A refusal prints "serve_client: TEXT (errno N)" on stderr and exits 1.
As a module: mount(), unmount(), list_mounts(), socket_path().
"""
import base64
import ctypes
import ctypes.util
import errno
import json
import os
import socket
import struct
import sys

MAGIC = 0x31534653  # "SFS1"
VERSION = 1
HEADER = struct.Struct("<IHHI")  # magic, version, type, body_len
FIELD = struct.Struct("<HI")  # tag, len
MAX_BODY = 64 * 1024
MAX_FDS = 3

# Types.
MOUNT, ATTACH, LIST, REPLY = 1, 2, 3, 8
# Tags.
IMAGE_LABEL, STORE_LABEL, MOUNTPOINT, OPTIONS, PUBKEY = 1, 2, 3, 4, 5
ERRNO, TEXT = 10, 11
MAX_STRING = 4096
MAX_KEYS = 64

# The DER prefix of an Ed25519 SubjectPublicKeyInfo; the key follows.
ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")

# Mount flags (linux/mount.h).
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_SYNCHRONOUS, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME = 16, 128, 1024, 2048
MS_RELATIME, MS_STRICTATIME, MS_LAZYTIME = 1 << 21, 1 << 24, 1 << 25
MNT_DETACH = 2
# Option: (flag, set it); applied in order after nosuid, nodev, ro.
FLAG_OPTIONS = {
    "suid": (MS_NOSUID, False), "nosuid": (MS_NOSUID, True),
    "dev": (MS_NODEV, False), "nodev": (MS_NODEV, True),
    "exec": (MS_NOEXEC, False), "noexec": (MS_NOEXEC, True),
    "async": (MS_SYNCHRONOUS, False), "sync": (MS_SYNCHRONOUS, True),
    "dirsync": (MS_DIRSYNC, True),
    "atime": (MS_NOATIME, False), "noatime": (MS_NOATIME, True),
    "nodiratime": (MS_NODIRATIME, True),
    "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
    "strictatime": (MS_STRICTATIME, True),
    "nostrictatime": (MS_STRICTATIME, False),
    "lazytime": (MS_LAZYTIME, True), "nolazytime": (MS_LAZYTIME, False),
}

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class Refused(Exception):
    """The service (or this client) refused: errno and a one-line reason."""

    def __init__(self, err, text):
        super().__init__(f"{text} (errno {err})")
        self.errno = err
        self.text = text


def socket_path():
    env = os.environ.get("SEALFS_SERVE_SOCKET", "")
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/sealfs/serve.sock"
    run = os.environ.get("XDG_RUNTIME_DIR", "")
    if not run:
        raise Refused(errno.ENOENT, "XDG_RUNTIME_DIR is not set")
    return run + "/sealfs/serve.sock"


def encode(msg_type, fields, version=VERSION):
    body = b"".join(FIELD.pack(tag, len(value)) + value
                    for tag, value in fields)
    return HEADER.pack(MAGIC, version, msg_type, len(body)) + body


def parse(packet):
    """(type, [(tag, value)]) of a packet from the service, checked as the
    spec asks of any receiver; Refused(EPROTO) otherwise."""
    def bad(why):
        return Refused(errno.EPROTO, "reply: " + why)
    if len(packet) < HEADER.size or len(packet) > HEADER.size + MAX_BODY:
        raise bad("packet size")
    magic, version, msg_type, body_len = HEADER.unpack_from(packet)
    if magic != MAGIC or version != VERSION:
        raise bad("magic or version")
    if not 1 <= msg_type <= 8 or body_len != len(packet) - HEADER.size:
        raise bad("type or body length")
    fields, off = [], HEADER.size
    while off < len(packet):
        if len(packet) - off < FIELD.size:
            raise bad("truncated field header")
        tag, length = FIELD.unpack_from(packet, off)
        off += FIELD.size
        if not 1 <= tag <= 16 or length > len(packet) - off:
            raise bad(f"field {tag}")
        fields.append((tag, packet[off:off + length]))
        off += length
    return msg_type, fields


def decode_reply(packet):
    """(errno, text) of a kReply."""
    msg_type, fields = parse(packet)
    tags = [tag for tag, _ in fields]
    if (msg_type != REPLY or tags.count(ERRNO) != 1 or tags.count(TEXT) > 1
            or set(tags) - {ERRNO, TEXT}):
        raise Refused(errno.EPROTO, "reply: not a reply")
    values = dict(fields)
    if len(values[ERRNO]) != 4:
        raise Refused(errno.EPROTO, "reply: errno of the wrong size")
    err = struct.unpack("<I", values[ERRNO])[0]
    return err, values.get(TEXT, b"").decode("utf-8", "surrogateescape")


def call(sock, msg_type, fields=(), fds=(), version=VERSION):
    """Sends one message with `fds` and returns the (errno, text) reply."""
    socket.send_fds(sock, [encode(msg_type, fields, version)], list(fds))
    data, got, flags, _ = socket.recv_fds(sock, HEADER.size + MAX_BODY + 1,
                                          MAX_FDS + 1)
    for fd in got:  # a reply carries none
        os.close(fd)
    if not data:
        raise Refused(errno.ECONNRESET, "the service closed the connection")
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        raise Refused(errno.EPROTO, "reply: truncated")
    return decode_reply(data)


def connect(path=None, timeout_s=30):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(timeout_s)
    try:
        sock.connect(path or socket_path())
    except OSError:
        sock.close()
        raise
    return sock


def read_pubkey(path):
    """The raw 32 bytes of an Ed25519 PEM public key file."""
    with open(path, "rb") as f:
        lines = f.read().decode("ascii", "replace").split("\n")
    try:
        start = lines.index("-----BEGIN PUBLIC KEY-----")
        end = lines.index("-----END PUBLIC KEY-----", start)
        der = base64.b64decode("".join(lines[start + 1:end]), validate=True)
    except (ValueError, base64.binascii.Error):
        raise Refused(errno.EINVAL, f"{path}: not a PEM public key")
    if len(der) != 44 or not der.startswith(ED25519_SPKI):
        raise Refused(errno.EINVAL, f"{path}: not an Ed25519 public key")
    return der[12:]


def parse_options(text):
    """What the caller itself needs from the -o text: the store, the key
    files, and how to mount. The service parses the whole text."""
    o = {"store": None, "pubkeys": [], "keyring": None, "allow_other": None,
         "max_read": None, "flags": []}
    for opt in filter(None, text.split(",")):
        key, _, value = opt.partition("=")
        if key == "store":
            o["store"] = value
        elif key == "pubkey":
            o["pubkeys"].append(value)
        elif key == "keyring":
            o["keyring"] = value
        elif opt in ("allow_other", "noallow_other"):
            o["allow_other"] = opt == "allow_other"
        elif key == "max_read":
            o["max_read"] = value
        elif opt in FLAG_OPTIONS:
            o["flags"].append(opt)
    return o


def trusted_keys(o):
    keys = [read_pubkey(p) for p in o["pubkeys"]]
    if o["keyring"]:
        for name in sorted(os.listdir(o["keyring"])):
            if not name.startswith(".") and name.endswith(".pub"):
                keys.append(read_pubkey(os.path.join(o["keyring"], name)))
    if len(keys) > MAX_KEYS:
        raise Refused(errno.E2BIG, "more than 64 trusted keys")
    return keys


def kernel_mount(mountpoint, o):
    """mount(2) as `sealfs mount` does it as root; returns the /dev/fuse fd."""
    flags = MS_NOSUID | MS_NODEV | MS_RDONLY
    for opt in o["flags"]:
        flag, on = FLAG_OPTIONS[opt]
        flags = flags | flag if on else flags & ~flag
    data = ["default_permissions"]
    root = os.geteuid() == 0
    if o["allow_other"] if o["allow_other"] is not None else root:
        data.append("allow_other")
    if o["max_read"] is not None:
        data.append("max_read=" + o["max_read"])
    fuse_fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    data.append(f"fd={fuse_fd},rootmode=40000,user_id={os.getuid()},"
                f"group_id={os.getgid()}")
    if _libc.mount(b"sealfs", os.fsencode(mountpoint), b"fuse.sealfs", flags,
                   ",".join(data).encode()) != 0:
        err = ctypes.get_errno()
        os.close(fuse_fd)
        raise Refused(err, f"{mountpoint}: mount: {os.strerror(err)}")
    return fuse_fd


def unmount(mountpoint):
    if _libc.umount2(os.fsencode(mountpoint), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise Refused(err, f"{mountpoint}: umount: {os.strerror(err)}")


def mount(image, mountpoint, options, path=None, read_init=False):
    """Mounts `image` on `mountpoint` through the service; returns the
    session id (a string). Refused with the service's errno and reason.
    `read_init`: breaks the protocol as the spec says a caller MUST NOT."""
    if os.geteuid() != 0:
        raise Refused(errno.EPERM, "this client mounts as root only")
    o = parse_options(options)
    if not o["store"]:
        raise Refused(errno.EINVAL, "store= is required")
    mnt = os.path.realpath(mountpoint)
    fields = [(IMAGE_LABEL, os.fsencode(image)),
              (STORE_LABEL, os.fsencode(o["store"])),
              (MOUNTPOINT, os.fsencode(mnt)),
              (OPTIONS, options.encode())]
    if any(len(v) > MAX_STRING for _, v in fields):
        raise Refused(errno.ENAMETOOLONG, "mount request too long")
    fields += [(PUBKEY, key) for key in trusted_keys(o)]
    image_fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
    try:
        store_fd = os.open(o["store"],
                           os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        os.close(image_fd)
        raise
    with connect(path) as sock:
        try:
            err, text = call(sock, MOUNT, fields, [image_fd, store_fd])
        finally:
            os.close(image_fd)
            os.close(store_fd)
        if err:
            raise Refused(err, text)
        if text:
            print(f"serve_client: warning: {text}", file=sys.stderr)
        fuse_fd = kernel_mount(mnt, o)
        if read_init:
            os.read(fuse_fd, 1 << 20)
        try:
            err, text = call(sock, ATTACH, (), [fuse_fd])
        except (OSError, Refused) as e:
            err, text = getattr(e, "errno", errno.EIO) or errno.EIO, str(e)
        finally:
            os.close(fuse_fd)
        if err:
            unmount(mnt)  # nobody serves it
            raise Refused(err, text)
        return text


def list_mounts(path=None):
    with connect(path, 10) as sock:
        err, text = call(sock, LIST)
    if err:
        raise Refused(err, text)
    return json.loads(text)


def refusal(case, path=None):
    """Sends a request the spec says is refused; returns (errno, text)."""
    with connect(path, 10) as sock:
        if case == "version":
            return call(sock, LIST, version=2)
        if case == "unknown-tag":
            return call(sock, LIST, [(17, b"")])
        if case == "attach-first":
            return call(sock, ATTACH)
        if case == "list-with-field":
            return call(sock, LIST, [(TEXT, b"x")])
        if case == "mount-without-fds":
            return call(sock, MOUNT, [(IMAGE_LABEL, b"i"), (STORE_LABEL, b"s"),
                                      (MOUNTPOINT, b"/m"), (OPTIONS, b"")])
        if case == "relative-mountpoint":
            return call(sock, MOUNT, [(IMAGE_LABEL, b"i"), (STORE_LABEL, b"s"),
                                      (MOUNTPOINT, b"m"), (OPTIONS, b"")])
    raise Refused(errno.EINVAL, f"unknown case {case}")


def main(argv):
    try:
        if len(argv) >= 3 and argv[0] == "mount":
            read_init = argv[1] == "--read-init"
            if read_init:
                argv = argv[1:]
            options = ""
            if argv[1] == "-o":
                options, argv = argv[2], argv[2:]
            if len(argv) != 3:
                raise Refused(errno.EINVAL, "usage: mount [-o OPTS] IMAGE MNT")
            print(mount(argv[1], argv[2], options, read_init=read_init))
        elif argv == ["list"]:
            print(json.dumps(list_mounts()))
        elif len(argv) == 2 and argv[0] == "umount":
            unmount(argv[1])
        elif len(argv) == 2 and argv[0] == "refusal":
            err, text = refusal(argv[1])
            print(err, text)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Refused as e:
        print(f"serve_client: {e.text} (errno {e.errno})", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"serve_client: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
