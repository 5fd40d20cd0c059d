#!/usr/bin/env bash
# Builds a real set of animated game sprites from two Debian packages, kept in the formats the
# games ship them in, for the sheet loader and the animation benchmark:
#   pingus-data        strips with pingus `.sprite` files ((image ...) (array N 1) (size W H))
#   freedroidrpg-data  droid atlases: pages + `atlas.txt` (trimmed frames with anchor offsets)
# (licences: usr/share/doc/{pingus-data,freedroidrpg-data}/copyright; GPL-2+ and others).
# Layout: OUT/CLASS/PROP/..., data files beside their images, copied as they are, except that
# the droids' atlas.txt keeps only the walk and attack frames of four of their eight
# directions (and the pages those use), to keep a training run short.
#   robot   15 numbered freedroid droids (atlas.txt)      animations: enemy_rot_0R_{walk,attack}
#   human   12 freedroid characters (atlas.txt)            the same animation names
#   pingu   pingus' pingu (player0, ~40 actions) and the Christmas walker (.sprite)
#   trap    pingus traps, animated exits, entrances and machines (.sprite)
#   liquid  pingus' 8 animated liquids (.sprite)
#   usage: animated_props.sh [OUT] [CACHE]   defaults: ./data/animated_props  ~/.cache/assetvae-debs
set -euo pipefail
out=${1:-data/animated_props}
cache=${2:-$HOME/.cache/assetvae-debs}
mkdir -p "$cache"
fetch() {  # $1: package; prints the root it is unpacked in
  local deb root="$cache/$1-root"
  deb=$(ls "$cache/$1"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    # a fresh machine has no apt lists yet: update once, then download
    (cd "$cache" && { apt-get download "$1" >/dev/null 2>&1 ||
      { apt-get update >/dev/null && apt-get download "$1" >/dev/null 2>&1; }; })
    deb=$(ls "$cache/$1"_*.deb | head -n1)
  fi
  [ -d "$root/usr" ] || dpkg -x "$deb" "$root"
  echo "$root"
}
pingus=$(fetch pingus-data)/usr/share/games/pingus/data/images
droids=$(fetch freedroidrpg-data)/usr/share/freedroidrpg/data/graphics/droids
tmp="$out.tmp"
rm -rf "$tmp"; mkdir -p "$tmp"

# freedroid: one folder per droid, its atlas.txt cut down to walk/attack in directions 0,2,4,6
droid() {  # $1: class, $2: droid name
  local src="$droids/$2" dst="$tmp/$1/$2"
  mkdir -p "$dst"
  awk '/^\*/ {page=$0; next}
       /_rot_0[0246]_(walk|attack)-[0-9]+\.png / {
         if (page != "") { print page; split(page, p, " "); print p[2] > "/dev/stderr"; page="" }
         print }' "$src/atlas.txt" > "$dst/atlas.txt" 2> "$dst/.pages"
  while read -r png; do cp "$src/$png" "$dst/"; done < "$dst/.pages"
  rm "$dst/.pages"
}
for d in 123 139 247 249 296 302 329 420 493 516 571 598 614 883 999; do droid robot "$d"; done
for d in arthur bartender blue_guard cook default_male female_hunter female_scientist hot_mama \
         jasmine kevin professor red_guard; do droid human "$d"; done

# pingus: a .sprite names its image relative to itself; each prop is copied with its images
sprites() {  # $1: class, $2: prop folder name, then .sprite files (paths under $pingus)
  local cls=$1 prop=$2; shift 2
  for s in "$@"; do
    local dir; dir=$(dirname "$s")
    local img; img=$(sed -n 's/.*(image "\([^"]*\)").*/\1/p' "$pingus/$s")
    mkdir -p "$tmp/$cls/$prop"
    cp "$pingus/$s" "$tmp/$cls/$prop/$(basename "$s")"
    cp "$pingus/$dir/$img" "$tmp/$cls/$prop/$(basename "$img")"
    sed -i "s|(image \"[^\"]*\")|(image \"$(basename "$img")\")|" "$tmp/$cls/$prop/$(basename "$s")"
  done
}
# the pingu: player0's images, and its actions' left/right .sprite files in their folders
mkdir -p "$tmp/pingu/pingu"
cp "$pingus"/pingus/player0/*.png "$pingus"/pingus/player0/*.sprite "$tmp/pingu/pingu/"
for d in "$pingus"/pingus/player0/*/; do
  mkdir -p "$tmp/pingu/pingu/$(basename "$d")"
  cp "$d"*.sprite "$tmp/pingu/pingu/$(basename "$d")/"
done
mkdir -p "$tmp/pingu/xmas"
cp "$pingus/pingus/common/xmas-walker.png" "$tmp/pingu/xmas/"
sed 's|(image "[^"]*")|(image "xmas-walker.png")|' "$pingus/XMas/walker.sprite" \
  > "$tmp/pingu/xmas/walker.sprite"
for s in traps/bumper traps/fake_exit traps/guillotineidle traps/hammer traps/laser_exit \
         traps/smasher traps/spike exits/sortie_anim exits/space entrances/entrance_eyes_anim \
         entrances/space entrances/woodthing_mov hotspots/space/engine worldobjs/teleporter \
         worldobjs/teleportertarget; do
  sprites trap "$(echo "$s" | tr / _)" "$s.sprite"
done
for s in lava slime swater water water2 water3 water4 water5; do
  sprites liquid "$s" "liquids/$s.sprite"
done

rm -rf "$out"; mv "$tmp" "$out"
printf 'animated_props: %s at %s\n' \
  "$(for c in $(ls "$out"); do printf '%s=%s props ' "$c" "$(ls "$out/$c" | wc -l)"; done)" "$out"
