#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the machine's own Debian archive as "URI KEYRING" (KEYRING is "-"
# when the source names none): the first apt source that serves SUITE's
# main component, from the deb822 files in /etc/apt/sources.list.d/ first,
# then /etc/apt/sources.list. scripts/deps.sh adds bookworm-backports from
# it and scripts/trixie-root.sh bootstraps trixie from it, so every package
# comes from the mirror and key this machine already trusts, never from a
# hard-coded mirror.
#
#   scripts/debian-source.sh [SUITE]      SUITE defaults to bookworm
#
# Files named arena-*.sources (the ones deps.sh writes) are not read.
set -euo pipefail

SUITE=${1:-bookworm}

die() { echo "debian-source: error: $*" >&2; exit 1; }

uri="" key=""
files=()
for f in /etc/apt/sources.list.d/*.sources; do
	[ -r "$f" ] || continue
	case "${f##*/}" in arena-*) continue ;; esac
	files+=("$f")
done
if [ ${#files[@]} -gt 0 ]; then
	read -r uri key < <(awk -v want="$SUITE" '
		function flush() {
			if (suite && main && u) { print u, (k ? k : "-"); found = 1; exit }
			suite = main = 0; u = k = ""
		}
		/^[ \t]*$/ { flush() }
		/^URIs:/ { u = $2 }
		/^Signed-By:/ { k = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) suite = 1 }
		/^Components:/ { for (i = 2; i <= NF; i++) if ($i == "main") main = 1 }
		END { if (!found) flush() }' "${files[@]}") || true
fi
if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
	uri=$(awk -v want="$SUITE" '$1 == "deb" {
			sub(/\[[^]]*\] */, "")
			if ($3 == want) { print $2; exit }
		}' /etc/apt/sources.list)
	key=-
fi
[ -n "$uri" ] || die "no $SUITE source with component main in /etc/apt"
echo "$uri ${key:--}"
