#!/usr/bin/env bash
# The two downloads from a built bundle: bash make-artefacts.sh APP_DIR VERSION OUT_DIR
#   OUT_DIR/lci-studio-VERSION-linux-x86_64.tar.gz  per-user install (install.sh / uninstall.sh, no root)
#   OUT_DIR/lci-studio_VERSION_amd64.deb             /opt/lci-studio, lci-studio and lci in /usr/bin
# LCI_GZIP_LEVEL (default 9) and LCI_ZSTD_LEVEL (default 12) trade size for time; CI uses fast levels.
set -euo pipefail
APP=$(cd "$1" && pwd)
VERSION=$2
OUT=$(mkdir -p "$3" && cd "$3" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ICON=$HERE/../../resources/icons/lci-studio.svg
METAINFO=io.github.lci_studio.LciStudio.metainfo.xml
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
stage() { printf '[artefacts %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# What the bundle does not carry, by Debian 12 / Ubuntu 22.04 package (packaging/README.md says why).
DEPENDS="libc6 (>= 2.35), libstdc++6 (>= 11), libgcc-s1, libexpat1, libgl1, libegl1, libxcb1, libx11-6, libxkbcommon0, xkb-data, libfontconfig1"

bash "$HERE/check-depends.sh" "$APP" "$DEPENDS"

stage "tar.gz"
T=$STAGE/tar/lci-studio-$VERSION-linux-x86_64
mkdir -p "$T/share"
cp -a "$APP" "$T/lci-studio"
cp "$HERE/install.sh" "$HERE/uninstall.sh" "$T/"
cp "$HERE/lci-studio.desktop" "$HERE/lci-studio-mime.xml" "$HERE/$METAINFO" "$ICON" "$T/share/"
TARBALL=$OUT/lci-studio-$VERSION-linux-x86_64.tar.gz
tar -C "$STAGE/tar" -cf - "$(basename "$T")" | gzip "-${LCI_GZIP_LEVEL:-9}" > "$TARBALL.part"
mv "$TARBALL.part" "$TARBALL"

stage ".deb"
D=$STAGE/deb
mkdir -p "$D/DEBIAN" "$D/opt" "$D/usr/bin" "$D/usr/share/applications" "$D/usr/share/mime/packages" \
    "$D/usr/share/metainfo" "$D/usr/share/icons/hicolor/scalable/apps" "$D/usr/share/icons/hicolor/scalable/mimetypes"
mv "$T/lci-studio" "$D/opt/lci-studio"
ln -s /opt/lci-studio/lci-studio "$D/usr/bin/lci-studio"
ln -s /opt/lci-studio/lci "$D/usr/bin/lci"
cp "$HERE/lci-studio.desktop" "$D/usr/share/applications/"
cp "$HERE/lci-studio-mime.xml" "$D/usr/share/mime/packages/lci-studio.xml"
cp "$HERE/$METAINFO" "$D/usr/share/metainfo/"
cp "$ICON" "$D/usr/share/icons/hicolor/scalable/apps/lci-studio.svg"
cp "$ICON" "$D/usr/share/icons/hicolor/scalable/mimetypes/application-x-lci.svg"
# shared-mime-info, desktop-file-utils and hicolor-icon-theme refresh their caches by dpkg
# triggers on these folders, so the package needs no maintainer scripts.
sed -e "s/@VERSION@/$VERSION/" -e "s/@DEPENDS@/$DEPENDS/" \
    -e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$D" | cut -f1)/" "$HERE/control.in" > "$D/DEBIAN/control"
DEB=$OUT/lci-studio_${VERSION}_amd64.deb
# zstd -12: 208 MB in under a minute here; xz -6 gave 176 MB but took 7 minutes of a 2-core machine.
# dpkg reads zstd since Debian 12 and Ubuntu 21.10.
dpkg-deb --root-owner-group -Zzstd "-z${LCI_ZSTD_LEVEL:-12}" --build "$D" "$DEB.part" >/dev/null
mv "$DEB.part" "$DEB"
stage "tar.gz $(du -h "$TARBALL" | cut -f1), .deb $(du -h "$DEB" | cut -f1)"
