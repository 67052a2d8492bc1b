#!/bin/sh
# The layering rule (docs/architecture.md, "Layers"): a file may include
# headers of its own folder and of the folders below it, never above.
# Fails on every include that goes upward, every project include not spelled
# from the source root, and every source file in a folder the table below
# does not know (a new folder must be given its place first).
#
#   tests/check_layers.sh [SOURCE_ROOT]
set -eu
cd "${1:-$(dirname "$0")/..}"

# Lowest first.
LAYERS='util dataplane control/config control/table control/nat control/link
control/signalling control/topology control/core control/mgmt app'

rank() { # path -> layer number of its folder, or nothing
	n=0
	for l in $LAYERS; do
		case "$1" in "$l"/*)
			echo "$n"
			return
			;;
		esac
		n=$((n + 1))
	done
}

check_file() {
	f=$1
	rf=$(rank "$f")
	if [ -z "$rf" ]; then
		echo "$f: its folder has no layer (add it to tests/check_layers.sh and docs/architecture.md)"
		return
	fi
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' |
		while read -r no inc; do
			case "$inc" in
			*/*) ;;
			*)
				echo "$f:$no: \"$inc\": spell project includes from the source root"
				continue
				;;
			esac
			ri=$(rank "$inc")
			if [ -z "$ri" ]; then
				[ ! -e "$inc" ] || echo "$f:$no: \"$inc\": its folder has no layer"
			elif [ "$ri" -gt "$rf" ]; then
				echo "$f:$no: includes \"$inc\", a higher layer"
			fi
		done
}

files=$(find util dataplane control app -name '*.[ch]' | sort)
problems=$(for f in $files; do check_file "$f"; done)
if [ -n "$problems" ]; then
	echo "$problems" | sed 's/^/check_layers: /'
	echo "check_layers: FAILED; layers, lowest first: $(echo $LAYERS | sed 's/ / < /g')"
	exit 1
fi
echo "check_layers: ok, $(echo "$files" | wc -l) files; $(echo $LAYERS | sed 's/ / < /g')"
