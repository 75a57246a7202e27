# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the bench report scripts: write_section BEGIN END TABLES RESULTS
# puts TABLES between the marker lines BEGIN and END of RESULTS (replacing
# what was there, or appending the section if RESULTS has no BEGIN line),
# then prints TABLES. With RESULTS empty it only prints TABLES.

write_section() {
	local begin=$1 end=$2 tables=$3 results=$4 section tmp

	if [ -z "$results" ]; then
		printf '%s\n' "$tables"
		return 0
	fi
	section=$(printf '%s\n%s\n%s\n' "$begin" "$tables" "$end")
	tmp=$(mktemp "$results.XXXXXX")
	if [ -f "$results" ] && grep -qxF "$begin" "$results"; then
		awk -v b="$begin" -v e="$end" -v sfile=/dev/stdin '
			BEGIN { while ((getline l < sfile) > 0) sec = sec l "\n" }
			$0 == b { printf "%s", sec; skip = 1; next }
			skip && $0 == e { skip = 0; next }
			!skip { print }' "$results" <<< "$section" > "$tmp"
	else
		{ [ -f "$results" ] && cat "$results"; echo; printf '%s\n' "$section"; } > "$tmp"
	fi
	mv "$tmp" "$results"
	printf '%s\n' "$tables"
}
