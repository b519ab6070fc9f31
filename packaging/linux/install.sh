#!/bin/sh
# Per-user install of the LCI Studio download (no root): the app into ~/.local/lib/lci-studio,
# `lci-studio` and `lci` into ~/.local/bin, the menu entry, icon and .lci file type into
# ~/.local/share (or $XDG_DATA_HOME). Run it again to update; ~/.local/lib/lci-studio/uninstall.sh removes it.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
BIN=$HOME/.local/bin
APP=$HOME/.local/lib/lci-studio

[ -x "$HERE/lci-studio/lci-studio" ] || { echo "install.sh: $HERE/lci-studio/lci-studio is missing; unpack the whole download" >&2; exit 1; }
mkdir -p "$BIN" "$HOME/.local/lib" "$DATA/applications" "$DATA/mime/packages" "$DATA/metainfo" \
    "$DATA/icons/hicolor/scalable/apps" "$DATA/icons/hicolor/scalable/mimetypes"

# Copy beside, then swap: a failed copy leaves the installed version as it was.
rm -rf "$APP.new" "$APP.old"
cp -a "$HERE/lci-studio" "$APP.new"
cp "$HERE/uninstall.sh" "$APP.new/uninstall.sh"
[ -e "$APP" ] && mv "$APP" "$APP.old"
mv "$APP.new" "$APP"
rm -rf "$APP.old"

ln -sfn "$APP/lci-studio" "$BIN/lci-studio"
ln -sfn "$APP/lci" "$BIN/lci"
# ~/.local/bin is not on every desktop session's PATH: the menu entry names the program by its full path.
sed -e "s|^Exec=.*|Exec=\"$APP/lci-studio\" %f|" -e "s|^TryExec=.*|TryExec=$APP/lci-studio|" \
    "$HERE/share/lci-studio.desktop" > "$DATA/applications/lci-studio.desktop"
cp "$HERE/share/lci-studio-mime.xml" "$DATA/mime/packages/lci-studio.xml"
cp "$HERE/share/lci-studio.svg" "$DATA/icons/hicolor/scalable/apps/lci-studio.svg"
cp "$HERE/share/lci-studio.svg" "$DATA/icons/hicolor/scalable/mimetypes/application-x-lci.svg"
cp "$HERE/share/io.github.lci_studio.LciStudio.metainfo.xml" "$DATA/metainfo/"

command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f "$DATA/icons/hicolor" 2>/dev/null || true

echo "LCI Studio installed in $APP; it is in your application menu, and .lci files open with it."
case ":$PATH:" in
    *":$BIN:"*) ;;
    *) echo "To run lci-studio and lci from a terminal, add $BIN to your PATH." ;;
esac
