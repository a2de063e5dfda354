#!/usr/bin/env bash
# Real photographs for the near-duplicate quality corpus, from Debian's archive (nothing else is
# reachable here): the photos among three packages' wallpapers and sample data, unpacked without
# installing the packages. Usage: fetch-real-photos.sh [DIR] (default $LUMINA_PHOTOS or
# ~/.cache/lumina/photos). Licences: lomiri-wallpapers CC-BY/CC-BY-SA/CC0 per file,
# mate-backgrounds GPL-2+, scikit-image data BSD-3 (see each package's copyright file).
set -euo pipefail
dest="${1:-${LUMINA_PHOTOS:-$HOME/.cache/lumina/photos}}"
if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download -qq lomiri-wallpapers-16.04 mate-backgrounds python3-skimage >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null && apt-get download -qq lomiri-wallpapers-16.04 mate-backgrounds python3-skimage
}
for deb in ./*.deb; do dpkg-deb -x "$deb" x; done
mkdir -p "$dest"
cp x/usr/share/backgrounds/*_by_*.jpg "$dest"/
cp x/usr/share/backgrounds/mate/nature/*.jpg "$dest"/
for f in astronaut.png coffee.png chelsea.png rocket.jpg motorcycle_left.png motorcycle_right.png camera.png; do
  cp "x/usr/lib/python3/dist-packages/skimage/data/$f" "$dest/skimage-$f"
done
touch "$dest/.complete"
echo "$dest"
