#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/build-deb.sh OUTDIR
#
# Build the Debian packages (debian/: arena-dkms, libarena1, libarena-dev,
# libarena-apr, arena-tools) with `dpkg-buildpackage -us -uc -b` in a copy of the source
# tree, OUTDIR/arena-<version>/, so that neither the checkout nor its parent
# directory gets build files: the .deb, .buildinfo and .changes files land
# in OUTDIR. The copy holds the files git tracks plus the untracked ones it
# does not ignore (outside a git checkout: everything but build/). Prints
# the .deb paths, one a line, last; the build log is OUTDIR/build.log.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: $0 OUTDIR}
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$TOP/dkms.conf")
CHVER=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
[ "$VERSION" = "$CHVER" ] || {
	echo "build-deb: dkms.conf says $VERSION, debian/changelog $CHVER" >&2
	exit 1
}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SRC=$OUT/arena-$VERSION
rm -rf "$SRC" "$OUT"/*.deb "$OUT"/*.buildinfo "$OUT"/*.changes
mkdir -p "$SRC"
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$TOP" && git ls-files -z -c -o --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		cpio -0 -pdm --quiet "$SRC")
else
	tar -C "$TOP" --exclude=./build -cf - . | tar -C "$SRC" -xf -
fi

echo "  DEB      $OUT/ (dpkg-buildpackage -us -uc -b, log: build.log)"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1; then
	tail -n 40 "$OUT/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; the log is $OUT/build.log" >&2
	exit 1
fi
rm -rf "$SRC"
ls "$OUT"/*.deb
