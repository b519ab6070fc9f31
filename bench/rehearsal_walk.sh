#!/usr/bin/env bash
# The rehearsal walk (issue 22) on the frozen build: a first launch under a real X server (Xvfb :91) with
# openbox at 1280x720; Samples ▸, a sample's 8 tiles, demo mode (F11), Z, Esc, the split. Screenshots to OUT.
# Needs Debian xvfb openbox xdotool imagemagick. Usage: bash bench/rehearsal_walk.sh packaging/dist/lci-studio [OUT]
set -u
APP=${1:?the frozen app folder, e.g. packaging/dist/lci-studio}
OUT=${2:-rehearsal-walk}
mkdir -p "$OUT"
export DISPLAY=:91
Xvfb :91 -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 & XP=$!
sleep 1.5
openbox >/dev/null 2>&1 & OP=$!
sleep 1
export HOME=$(mktemp -d)   # a first launch: no settings, no recent files
QT_QPA_PLATFORM=xcb "$APP/lci-studio" >"$OUT/app.log" 2>&1 & AP=$!
for _ in $(seq 60); do W=$(xdotool search --onlyvisible --name "LCI Studio" 2>/dev/null | head -1); [ -n "$W" ] && break; sleep 0.5; done
echo "window $W"; sleep 3
import -window root "$OUT/1-first-launch.png"
xdotool key --window "$W" alt+a; sleep 1.5      # Samples menu (S&amples)
import -window root "$OUT/2-samples-menu.png"
xdotool key Down Down Return; sleep 25          # the second sample, its ladder
import -window root "$OUT/3-sample-opened.png"
xdotool key F11; sleep 3                         # demo mode
import -window root "$OUT/5-demo.png"
xdotool key z; sleep 2
import -window root "$OUT/6-demo-detail.png"
xdotool key Escape; sleep 1
xdotool search --onlyvisible --name "LCI Studio" windowactivate --sync 2>/dev/null; sleep 0.5
xdotool key s; sleep 2                           # split compare
import -window root "$OUT/7-split.png"
kill $AP; sleep 1; kill $OP $XP 2>/dev/null
echo done
