#!/usr/bin/env bash
# Every library the bundle links to but does not carry must come from a package in the .deb's
# Depends: bash check-depends.sh APP_DIR "DEPENDS LINE". Run by make-artefacts.sh on the build
# machine (Debian/Ubuntu: ldconfig and dpkg say which package ships each library).
set -euo pipefail
APP=$1
DEPENDS=$2
declare -A carried=()
while IFS= read -r -d '' file; do carried[$(basename "$file")]=1; done < <(find "$APP" -name '*.so*' -print0)
needed=$(find "$APP" -type f \( -name '*.so*' -o -perm -u+x \) -exec readelf -d {} + 2>/dev/null \
    | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
wanted=" $(echo "$DEPENDS" | sed -e 's/([^)]*)//g' -e 's/[,|]/ /g' | tr -s ' ') "
cache=$(ldconfig -p)
bad=0
for lib in $needed; do
    [ -n "${carried[$lib]:-}" ] && continue
    path=$(awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}' <<<"$cache")
    if [ -z "$path" ]; then echo "check-depends: $lib is not on this machine" >&2; bad=1; continue; fi
    package=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true)
    package=${package%%:*}
    case "$wanted" in
        *" $package "*) ;;
        *) echo "check-depends: $lib ($path, package '${package:-?}') is in no package of Depends" >&2; bad=1 ;;
    esac
done
[ "$bad" = 0 ] && echo "check-depends: every library the bundle does not carry comes from Depends"
exit "$bad"
