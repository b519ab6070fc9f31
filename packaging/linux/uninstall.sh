#!/bin/sh
# Removes what install.sh put into ~/.local (the app, its two commands, menu entry, icon, file type).
set -eu
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
BIN=$HOME/.local/bin
APP=$HOME/.local/lib/lci-studio

for link in "$BIN/lci-studio" "$BIN/lci"; do
    # only our own links, not another program of the same name
    case "$(readlink "$link" 2>/dev/null || true)" in "$APP"/*) rm -f "$link" ;; esac
done
rm -f "$DATA/applications/lci-studio.desktop" "$DATA/mime/packages/lci-studio.xml" \
    "$DATA/icons/hicolor/scalable/apps/lci-studio.svg" "$DATA/icons/hicolor/scalable/mimetypes/application-x-lci.svg" \
    "$DATA/metainfo/io.github.lci_studio.LciStudio.metainfo.xml"
rm -rf "$APP"
command -v update-mime-database >/dev/null && [ -d "$DATA/mime" ] && update-mime-database "$DATA/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" 2>/dev/null || true
echo "LCI Studio removed from $APP and ~/.local."
