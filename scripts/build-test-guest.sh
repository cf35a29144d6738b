#!/usr/bin/env bash
# Build ferrostack's tiny test guest from Debian packages only: Debian's cloud kernel and a
# busybox initramfs whose /init (scripts/guest/init) reads the config drive and prints the
# instance's metadata and user data on the serial console.
#
#   scripts/build-test-guest.sh [OUTDIR]      (default target/test-guest)
#
# Writes OUTDIR/vmlinuz, OUTDIR/initrd.img (kernel + ramdisk, usable as aki/ari images)
# and OUTDIR/disk.qcow2 (a whole bootable disk: FAT + syslinux + the same kernel and
# initrd). Nothing is mounted; outputs are reused while newer than their sources.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

OUT="${1:-target/test-guest}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SRC=(scripts/build-test-guest.sh scripts/guest/init scripts/guest/udhcpc.script)

fresh=1
for f in vmlinuz initrd.img disk.qcow2; do
  [ -s "$OUT/$f" ] || fresh=0
  for s in "${SRC[@]}"; do [ "$OUT/$f" -nt "$s" ] || fresh=0; done
done
if [ "$fresh" = 1 ]; then
  echo "test guest up to date in $OUT"
  exit 0
fi

ensure_packages busybox-static syslinux syslinux-common mtools dosfstools cpio kmod xz-utils
command -v qemu-img >/dev/null 2>&1 || ensure_qemu

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The kernel: whatever linux-image-cloud-amd64 depends on, downloaded (not installed).
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$pkg" ]; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
fi
echo "==> kernel package $pkg"
(cd "$WORK" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null)
dpkg-deb -x "$WORK"/"$pkg"_*.deb "$WORK/k"
KVER=$(ls "$WORK/k/lib/modules")
cp "$WORK/k/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
depmod -b "$WORK/k" "$KVER"   # the package leaves that to its install scripts

# The initramfs: busybox, the modules the guest needs (and what they depend on), /init.
R="$WORK/root"
mkdir -p "$R/bin" "$R/lib/modules" "$R/etc"
cp /bin/busybox "$R/bin/busybox"
cp scripts/guest/init "$R/init"
cp scripts/guest/udhcpc.script "$R/etc/udhcpc.script"
chmod +x "$R/init" "$R/etc/udhcpc.script"
MODS="virtio_pci virtio_blk virtio_net virtio_scsi sd_mod sr_mod ata_piix ata_generic isofs vfat nls_cp437 nls_ascii nls_iso8859-1 button evdev"
: > "$R/lib/modules/order"
for m in $MODS; do
  # built-in ones (no module file) have nothing to load
  modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}' || true
done | awk '!seen[$0]++' | while read -r ko; do
  name=$(basename "$ko")
  case "$name" in
    *.xz) xz -dc "$ko" > "$R/lib/modules/${name%.xz}"; name=${name%.xz} ;;
    *.zst) zstd -qdc "$ko" > "$R/lib/modules/${name%.zst}"; name=${name%.zst} ;;
    *) cp "$ko" "$R/lib/modules/$name" ;;
  esac
  echo "$name" >> "$R/lib/modules/order"
done
echo "==> initramfs with $(wc -l < "$R/lib/modules/order") modules"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -9) > "$WORK/initrd.img"

# The bootable disk: a FAT "superfloppy" with syslinux in its boot sector.
cat > "$WORK/syslinux.cfg" <<'CFG'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=tty0 console=ttyS0 no_timer_check
CFG
truncate -s 32M "$WORK/disk.raw"
mkfs.vfat -n FSGUEST "$WORK/disk.raw" >/dev/null
syslinux --install "$WORK/disk.raw"
mcopy -i "$WORK/disk.raw" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/
qemu-img convert -q -f raw -O qcow2 "$WORK/disk.raw" "$WORK/disk.qcow2"

mv "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/disk.qcow2" "$OUT/"
echo "test guest in $OUT:"
ls -l "$OUT/vmlinuz" "$OUT/initrd.img" "$OUT/disk.qcow2"
