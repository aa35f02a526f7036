#!/usr/bin/env bash
# The main job on a default example: installs and builds sealfs, makes a
# signed image of a sample tree, mounts it verified, reads from it, shows a
# flipped bit on disk being refused, and unmounts.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh >/dev/null
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs

work=$(mktemp -d /tmp/sealfs-demo.XXXXXX)
mnt=$work/mnt
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" || umount -l "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A sample tree"
src=$work/src
mkdir -p "$src/etc" "$src/bin" "$src/usr/share/data"
echo "sealfs-demo" >"$src/etc/hostname"
printf '#!/bin/sh\necho hello from a verified filesystem\n' >"$src/bin/hello"
chmod 755 "$src/bin/hello"
ln -s ../etc/hostname "$src/bin/hostname-link"
head -c 8M /dev/urandom >"$src/usr/share/data/blob.bin"
ln "$src/usr/share/data/blob.bin" "$src/usr/share/data/blob-hardlink.bin"
find "$src" | sed "s|^$src|  .|"

step "Key pair and signed image"
"$sealfs" keygen "$work/key"
"$sealfs" mkfs --store "$work/store" --key "$work/key" "$src" "$work/image.sealfs"
"$sealfs" verify --pubkey "$work/key.pub" "$work/image.sealfs"
"$sealfs" inspect "$work/image.sealfs"

step "Mount, verified on every read"
mkdir -p "$mnt"
"$sealfs" mount -o "store=$work/store,pubkey=$work/key.pub" "$work/image.sealfs" "$mnt"
ls -l "$mnt" "$mnt/bin"
cat "$mnt/etc/hostname"
sh "$mnt/bin/hello"
cmp "$src/usr/share/data/blob.bin" "$mnt/usr/share/data/blob.bin" &&
  echo "8 MiB blob: identical to the source"
stat -c '%i %h %n' "$mnt/usr/share/data/"*

step "A bit flipped on disk is never returned"
digest=$("$sealfs" digest "$src/usr/share/data/blob.bin" | cut -d' ' -f1)
hex=${digest#sha256:}
object=$work/store/objects/${hex:0:2}/${hex:2}
chmod u+w "$object"
# Flip one bit (writing a fixed value would change nothing 1 time in 256).
byte=$(od -An -tu1 -j 5000000 -N1 "$object" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" |
  dd of="$object" bs=1 seek=5000000 conv=notrunc status=none
# Remount so the kernel page cache holds nothing read before the flip.
fusermount3 -u "$mnt"
"$sealfs" mount -o "store=$work/store,pubkey=$work/key.pub" "$work/image.sealfs" "$mnt"
if cat "$mnt/usr/share/data/blob.bin" >/dev/null 2>"$work/err"; then
  echo "ERROR: corrupt data was returned" >&2
  exit 1
fi
echo "read refused: $(cat "$work/err")"
dd if="$mnt/usr/share/data/blob.bin" bs=4096 count=1 status=none | cmp - \
  <(head -c 4096 "$src/usr/share/data/blob.bin") && echo "block 0 still reads fine"
"$sealfs" stats "$mnt"

step "Unmount"
fusermount3 -u "$mnt"
echo "done"
