#!/usr/bin/env bash
# CI for the standalone build (.ci/run calls it): build the bundle, the .tar.gz and the .deb from
# this checkout, then use them as a person would:
#   1. the frozen self-test, offscreen (its window check opens Samples ▸, which must list the shipped
#      photos, and waits for the first one's 8 tiles); lci encode / info / decode from the bundle;
#   2. the frozen app in a real X window (Xvfb, QT_QPA_PLATFORM=xcb) on a sample: a window titled
#      "LCI Studio" appears and the process is still alive after 30 s;
#   3. the .tar.gz's per-user install.sh / uninstall.sh into a temporary HOME;
#   4. apt install ./lci-studio_*.deb, then lci-studio --self-test and lci info from the PATH, apt remove.
# Needs root for apt (as .ci/run). Prints the time of every step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=$ROOT/packaging/dist
APP=$DIST/lci-studio
SAMPLE=$ROOT/resources/samples/coffee.png
WORK=$(mktemp -d)
XVFB_PID=""
cleanup() {
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
START=$SECONDS
step() { printf '[ci-test %s +%ds] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS - START))" "$*"; }
fail() { echo "ci-test: FAIL: $*" >&2; exit 1; }

if command -v apt-get >/dev/null 2>&1; then
    step "tools: Xvfb, xdotool, binutils (strip), desktop-file-utils, appstream, shared-mime-info; the X11 libraries the bundle carries"
    export DEBIAN_FRONTEND=noninteractive
    # The bundle carries the xcb libraries Qt's X11 plugin needs, from this machine (make-artefacts'
    # check-depends stops the build when one is missing): a bare machine has only some of them.
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        xvfb xdotool x11-utils binutils desktop-file-utils appstream shared-mime-info \
        libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
        libxcb-shape0 libxcb-xkb1 libxcb-util1 libxkbcommon-x11-0 >/dev/null
fi

step "build (packaging/build.sh)"
BUILD_START=$SECONDS
# Fast compression: CI checks that the downloads work, not how small they get (build.sh's defaults
# give the release sizes, packaging/README.md); this saves minutes on a busy 2-core machine.
LCI_GZIP_LEVEL=${LCI_GZIP_LEVEL:-1} LCI_ZSTD_LEVEL=${LCI_ZSTD_LEVEL:-3} bash packaging/build.sh
BUILD_SECONDS=$((SECONDS - BUILD_START))
DEB=$(ls "$DIST"/lci-studio_*_amd64.deb)
TARBALL=$(ls "$DIST"/lci-studio-*-linux-x86_64.tar.gz)

step "1. frozen self-test, offscreen"
env -u DISPLAY QT_QPA_PLATFORM=offscreen "$APP/lci-studio" --self-test | tee "$WORK/self-test.log"
# The installed app's Samples menu: the self-test opens it offscreen, checks it lists the photos this
# checkout ships and waits for the first one's 8 tiles (the menu was once empty in the bundle only).
SHIPPED=$(cd "$ROOT/resources/samples" && ls ./*.png | sed 's|^\./||' | paste -sd, - | sed 's/,/, /g')
grep -q "^PASS window: Samples ▸ lists $SHIPPED; .* gave 8 tiles" "$WORK/self-test.log" \
    || fail "the frozen app's Samples menu does not list $SHIPPED (or its first photo got no 8 tiles)"
"$APP/lci-studio" --version
"$APP/lci" encode "$SAMPLE" -o "$WORK/coffee.lci" -q 2
"$APP/lci" info "$WORK/coffee.lci"
"$APP/lci" decode "$WORK/coffee.lci" -o "$WORK/coffee-back.png"
if "$APP/lci" train "$WORK" --out "$WORK/run" 2>"$WORK/train.err"; then fail "frozen lci train should refuse"; fi
grep -q "not part of the standalone build" "$WORK/train.err" || fail "lci train: $(cat "$WORK/train.err")"

step "2. frozen app in a real X window (Xvfb, xcb) on $(basename "$SAMPLE")"
DISPLAY_NUMBER=$((100 + RANDOM % 400))
Xvfb ":$DISPLAY_NUMBER" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
export DISPLAY=":$DISPLAY_NUMBER"
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.2; done
QT_QPA_PLATFORM=xcb "$APP/lci-studio" "$SAMPLE" >"$WORK/app.log" 2>&1 &
APP_PID=$!
LAUNCHED=$SECONDS
WINDOW=""
while [ $((SECONDS - LAUNCHED)) -lt 30 ]; do
    WINDOW=$(xdotool search --onlyvisible --name "LCI Studio" 2>/dev/null | head -1 || true)
    [ -n "$WINDOW" ] && break
    kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log"; fail "the app exited before showing a window"; }
    sleep 0.5
done
[ -n "$WINDOW" ] || { cat "$WORK/app.log"; fail "no visible window titled 'LCI Studio' within 30 s"; }
step "window $(xdotool getwindowname "$WINDOW") after $((SECONDS - LAUNCHED)) s"
sleep $((30 - (SECONDS - LAUNCHED) > 0 ? 30 - (SECONDS - LAUNCHED) : 0))
kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log"; fail "the app died within 30 s"; }
step "alive after $((SECONDS - LAUNCHED)) s"
kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true
kill "$XVFB_PID"; XVFB_PID=""; unset DISPLAY

step "3. per-user install from the .tar.gz into a temporary HOME"
mkdir -p "$WORK/home" "$WORK/unpack"
tar -C "$WORK/unpack" -xzf "$TARBALL"
(
    unset XDG_DATA_HOME
    export HOME=$WORK/home
    sh "$WORK"/unpack/lci-studio-*/install.sh
    "$HOME/.local/bin/lci-studio" --version
    "$HOME/.local/bin/lci" info "$WORK/coffee.lci" >/dev/null
    desktop-file-validate "$HOME/.local/share/applications/lci-studio.desktop"
    grep -q "application/x-lci:\*.lci" "$HOME/.local/share/mime/globs2" || fail "the .lci MIME type is not registered"
    sh "$HOME/.local/lib/lci-studio/uninstall.sh"
    left=$(find "$HOME/.local" -name '*lci*' | grep -v '/mime/' || true)
    [ -z "$left" ] || fail "uninstall.sh left: $left"
)

step "4. apt install the .deb, run from PATH, apt remove"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$DEB" >/dev/null
[ "$(command -v lci-studio)" = /usr/bin/lci-studio ] || fail "lci-studio is not on the PATH"
(cd "$WORK" && env -u DISPLAY lci-studio --self-test)
(cd "$WORK" && lci info coffee.lci)
apt-get -o DPkg::Lock::Timeout=300 remove -y -qq lci-studio >/dev/null
[ ! -e /opt/lci-studio ] && [ ! -e /usr/bin/lci ] && [ ! -e /usr/bin/lci-studio ] || fail "apt remove left files behind"

step "PASS: build ${BUILD_SECONDS} s, bundle $(du -sh "$APP" | cut -f1), $(basename "$TARBALL") $(du -h "$TARBALL" | cut -f1), $(basename "$DEB") $(du -h "$DEB" | cut -f1), total $((SECONDS - START)) s"
