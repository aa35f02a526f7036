#!/usr/bin/env bash
# Writes the OCI images the --from-oci tests import, with the reference tools
# (umoci, skopeo), into DIR:
#   DIR/layout        oci: layout, tag "multi": three gzip layers that add,
#                     delete (files and a tree), replace, hard-link (also to
#                     a file of a lower layer), and make a directory opaque
#   DIR/zstd, DIR/plain  the same image with zstd and uncompressed layers
#   DIR/image.tar     the same image as an oci-archive:, tag "multi"
# Needs root (device nodes, owners, security.capability).
set -euo pipefail
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
cd "$dir"
export SOURCE_DATE_EPOCH=1320000000

umoci init --layout layout
umoci new --image layout:multi
umoci unpack --image layout:multi bundle >/dev/null
r=bundle/rootfs
mkdir -p $r/keep $r/gonedir/sub $r/opq $r/private
echo small >$r/keep/small.txt
setfattr -n user.v -v one $r/keep/small.txt
head -c 300000 /dev/urandom >$r/keep/large.bin
head -c 9000 /dev/urandom >$r/keep/orig
ln $r/keep/orig $r/keep/hardlink
echo cap >$r/keep/cap
setcap cap_net_raw+ep $r/keep/cap
mknod $r/keep/chardev c 1 3
mkfifo $r/keep/fifo
touch $r/keep/setuid
chown 7:8 $r/keep/setuid
chmod 4755 $r/keep/setuid
ln -s small.txt $r/keep/symlink
echo gone >$r/gone.txt
echo f >$r/gonedir/sub/f
echo old >$r/opq/old
echo old >$r/opq/old2
echo before >$r/replace.txt
chmod 700 $r/private
touch -h -d '2011-11-11 11:11:11.123456789' $r/keep/small.txt $r/keep/symlink
umoci repack --refresh-bundle --image layout:multi bundle >/dev/null

# Layer 2: deletions, a replacement and a hard link to a lower file.
rm $r/gone.txt
rm -r $r/gonedir
echo replaced, and longer >$r/replace.txt
setfattr -n user.v -v two $r/replace.txt
ln $r/keep/large.bin $r/keep/large-link
chmod 750 $r/private
umoci repack --refresh-bundle --image layout:multi bundle >/dev/null

# Layer 3, written by hand: an opaque directory and a hard link whose
# target is only in a lower layer (umoci's own diff never writes those).
python3 - "$dir/layer3.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, kind, data=b"", link=""):
        i = tarfile.TarInfo(name)
        i.type, i.mtime, i.mode = kind, 1320000000, 0o644
        if kind == tarfile.DIRTYPE:
            i.mode = 0o755
        i.size, i.linkname = len(data), link
        t.addfile(i, io.BytesIO(data) if data else None)
    add("opq", tarfile.DIRTYPE)
    add("opq/.wh..wh..opq", tarfile.REGTYPE)
    add("opq/new", tarfile.REGTYPE, b"new\n")
    add("xlink", tarfile.LNKTYPE, link="keep/orig")
PY
umoci raw add-layer --image layout:multi layer3.tar
rm -rf bundle layer3.tar
umoci gc --layout layout

skopeo copy -q --dest-compress --dest-compress-format zstd \
  oci:layout:multi oci:zstd:multi
# skopeo 1.9 keeps an oci: copy's layers compressed: decompressed by hand.
python3 "$here/oci_edit.py" decompress layout plain multi
skopeo copy -q oci:layout:multi oci-archive:image.tar:multi
