#!/usr/bin/env bash
# Install the system tools the studio uses (ffmpeg, fluidsynth, a General MIDI soundfont,
# espeak-ng) when they are missing, and any extra Debian packages named as arguments (e.g.
# opencv-doc, whose sample footage the video models train on). As root it runs apt-get;
# otherwise it prints the command. Fast when everything is there: it only looks.
set -euo pipefail

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v fluidsynth >/dev/null 2>&1 || missing+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ -n "${AIGC_SOUNDFONT:-}" ] || missing+=(fluid-soundfont-gm)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: missing system packages: ${missing[*]} (install them with your package manager)" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "note: missing system packages; install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 0
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
