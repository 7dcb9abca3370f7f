#!/usr/bin/env bash
# Builds a labelled folder of real drum one-shots (kick, snare, hihat, tom, cymbal, clap) from the
# kits of Debian's hydrogen-drumkits package (GPL-2+ and other free licences, see
# /usr/share/doc/hydrogen-drumkits/copyright) into datasets/drums/, unless it is already there.
# The output folder is the first argument, else TYMPAN_DRUMS, else datasets/drums. Files are named
# {label}_{kit}_{n}.{wav|flac|aiff}, the extension taken from the bytes; the bytes are those of the
# kit's sample (hard link, or copy), never re-encoded.
# DRUMS_VERBOSE=1 prints the decision taken for every instrument and sample.
set -euo pipefail
cd "$(dirname "$0")/.."

PKG=hydrogen-drumkits
FALLBACK_KITS=/usr/share/hydrogen/data/drumkits
OUT=${1:-${TYMPAN_DRUMS:-datasets/drums}}
OUT=${OUT%/}
TMP=$OUT.tmp

if [ -f "$OUT/SOURCE.txt" ]; then
  echo "drums found at $OUT ($(find "$OUT" -maxdepth 1 -name '*_*_*.*' ! -name '*.txt' | wc -l) samples)"
  exit 0
fi

find_kits() {
  local listing dir
  listing=$(dpkg -L "$PKG" 2>/dev/null || true)
  dir=$(printf '%s\n' "$listing" | awk '/\/drumkits$/ { print; exit }')
  if [ -n "$dir" ] && [ -d "$dir" ]; then echo "$dir"; else echo "$FALLBACK_KITS"; fi
}

KITS=$(find_kits)
if [ ! -d "$KITS" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian package $PKG ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "$PKG" || { apt-get update && apt-get install -y "$PKG"; }
    KITS=$(find_kits)
  else
    echo "the drum kits are missing: install the Debian package $PKG (sudo apt-get install $PKG)" >&2
    exit 1
  fi
fi
if [ ! -d "$KITS" ]; then
  echo "no drum kits at $KITS even though $PKG is installed" >&2
  exit 1
fi
VERSION=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || echo unknown)

if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
  echo "$OUT exists but holds no SOURCE.txt (not a finished build of this script): remove it first" >&2
  exit 1
fi

echo "building drum one-shots from $PKG $VERSION ($KITS) into $OUT ..."
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

python3 - "$KITS" "$TMP" "$PKG" "$VERSION" <<'PY'
import hashlib, os, re, shutil, sys
import xml.etree.ElementTree as ET

# Mapping rules, tried top to bottom on the lower-cased instrument <name> with any "(...)" removed
# (ForzeeStereo puts the make in brackets: "Ride (Custom, Zagrebin 22")"). The first match wins;
# label None means skip. Names no rule matches (percussion, cowbell, fx, numbered empty slots...)
# are skipped too.
RULES = [
    (None,     r"rim|stick|roll"),         # rimshots, rim clicks, side/cross sticks: ambiguous; snare rolls: not one-shots
    ("hihat",  r"hat|\b[co]?hh\b"),        # hi-hat, Hat, Closed/Open/Pedal HH, OHH (before cymbal and kick)
    ("kick",   r"kick|bass ?drum|\bbd\b"),  # Kick, BassDrum, bass drum 1 (not djembe "Bass" tones)
    ("snare",  r"snare|\bsd\b|^redo super opaco$"),  # + ColomboAcousticDrumkit's snare-opaque-2mics sample
    ("tom",    r"(?<![a-z])tom"),           # Tom Low, tomhi2, low tom, Floor Tom (not "Custom")
    ("cymbal", r"crash|(?<![a-z])ride|china|splash|cymbal|^paiste bell$"),  # incl. ride bell/cup, chokes
    ("clap",   r"clap"),                    # Clap, Hand Clap (not Finger Snaps)
]
# A sample is also skipped when its own file name says rim/stick/shaker (ColomboAcousticDrumkit
# files rimshots under "Snare1"; Audiophob's "Pedal HH" is an fx shaker) or names another class than
# its instrument (Audiophob's "Kick" is a tom recording).
FILE_SKIP = r"rim|stick|shake"
CLASSES = ["kick", "snare", "hihat", "tom", "cymbal", "clap"]
EXTS = ("wav", "flac", "aif", "aiff")


def sniff(b):
    """The container the bytes really are (kits ship e.g. an AIFF file named .wav)."""
    if b[:4] == b"RIFF" and b[8:12] == b"WAVE":
        return "wav"
    if b[:4] == b"fLaC":
        return "flac"
    if b[:4] == b"FORM" and b[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    return None

kits_dir, out_dir, pkg, version = sys.argv[1:5]
verbose = os.environ.get("DRUMS_VERBOSE") == "1"
rules = [(label, re.compile(rx)) for label, rx in RULES]


def classify(text):
    text = re.sub(r"\([^)]*\)?", " ", text.lower())
    for label, rx in rules:
        if rx.search(text):
            return label, rx.pattern
    return None, None


def local(tag):
    return tag.rsplit("}", 1)[-1]


def child_text(elem, name):
    for c in elem:
        if local(c.tag) == name:
            return (c.text or "").strip()
    return ""


def note(*a):
    if verbose:
        print(*a)


counts = {}  # (kit, label) -> n
seen = {}  # sha1 -> output name
skipped = {"unsupported format": 0, "missing file": 0, "duplicate": 0, "file name": 0}
sanitized = {}
for kit in sorted(os.listdir(kits_dir)):
    xml_path = os.path.join(kits_dir, kit, "drumkit.xml")
    if not os.path.isfile(xml_path):
        continue
    tag = re.sub(r"[^A-Za-z0-9]", "", kit)
    if not tag or tag in sanitized:
        sys.exit(f"kit {kit!r}: sanitized name {tag!r} is empty or taken by {sanitized.get(tag)!r}")
    sanitized[tag] = kit
    root = ET.parse(xml_path).getroot()
    instruments = [e for e in root.iter() if local(e.tag) == "instrument"]
    # Old layout: instrument/filename or instrument/layer/filename; newer: instrument/
    # instrumentComponent/layer/filename. Every <filename> below the instrument is one sample.
    instruments = sorted(
        ((child_text(e, "name"), i, e) for i, e in enumerate(instruments)), key=lambda t: (t[0], t[1])
    )
    for name, _, inst in instruments:
        label, why = classify(name)
        if label is None:
            note(f"skip   {kit} / {name!r}" + (f" (rule {why})" if why else ""))
            continue
        files = sorted({(e.text or "").strip() for e in inst.iter() if local(e.tag) == "filename"} - {""})
        for fn in files:
            src = fn if os.path.isabs(fn) else os.path.join(kits_dir, kit, fn)
            ext = os.path.splitext(fn)[1].lower().lstrip(".")
            stem = os.path.basename(os.path.splitext(fn)[0]).lower()
            stem_label, _ = classify(re.sub(r"[_\-.]+", " ", stem))
            if ext not in EXTS:
                skipped["unsupported format"] += 1
                note(f"format {kit} / {name!r} / {fn}")
                continue
            if not os.path.isfile(src):
                skipped["missing file"] += 1
                note(f"miss   {kit} / {name!r} / {fn}")
                continue
            if re.search(FILE_SKIP, stem) or stem_label not in (None, label):
                skipped["file name"] += 1
                note(f"fname  {kit} / {name!r} / {fn} (file says {stem_label or 'rim/stick/shaker'})")
                continue
            with open(src, "rb") as f:
                data = f.read()
            ext = sniff(data)
            if ext is None:
                skipped["unsupported format"] += 1
                note(f"format {kit} / {name!r} / {fn} (not WAV, FLAC or AIFF)")
                continue
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                skipped["duplicate"] += 1
                note(f"dup    {kit} / {name!r} / {fn} = {seen[digest]}")
                continue
            n = counts.get((tag, label), 0) + 1
            counts[(tag, label)] = n
            dst_name = f"{label}_{tag}_{n}.{ext}"
            seen[digest] = dst_name
            dst = os.path.join(out_dir, dst_name)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
            note(f"{label:6s} {kit} / {name!r} / {fn} -> {dst_name}")

kits = sorted({k for k, _ in counts})
total = sum(counts.values())
width = max([len(k) for k in kits] + [5])
lines = [f"{'kit':{width}s} " + " ".join(f"{c:>6s}" for c in CLASSES) + "  total"]
for k in kits:
    row = [counts.get((k, c), 0) for c in CLASSES]
    lines.append(f"{k:{width}s} " + " ".join(f"{v:6d}" for v in row) + f"  {sum(row):5d}")
col = [sum(counts.get((k, c), 0) for k in kits) for c in CLASSES]
lines.append(f"{'total':{width}s} " + " ".join(f"{v:6d}" for v in col) + f"  {total:5d}")
table = "\n".join(lines)
skips = ", ".join(f"{v} {k}" for k, v in skipped.items())

with open(os.path.join(out_dir, "SOURCE.txt"), "w") as f:
    f.write(f"Drum one-shots from the Debian package {pkg} {version} ({kits_dir}),\n")
    f.write("built by scripts/fetch-drums.sh. Licences: /usr/share/doc/hydrogen-drumkits/copyright.\n")
    f.write("File names: {label}_{kit}_{n}.{ext}, kit = kit folder name reduced to [A-Za-z0-9];\n")
    f.write("bytes as in the kit (no re-encoding); each distinct sample (by SHA-1) kept once.\n\n")
    f.write("Kit folders:\n")
    for tag, kit in sorted(sanitized.items()):
        f.write(f"  {tag} = {kit}\n")
    f.write("\nRules (lower-cased instrument name, \"(...)\" removed, first match wins, none = skip):\n")
    for label, rx in RULES:
        f.write(f"  {label or 'skip':6s} {rx}\n")
    f.write(f"  samples whose file name matches {FILE_SKIP!r} or another class are skipped too\n")
    f.write(f"  WAV (RIFF/WAVE), FLAC (fLaC) and AIFF (FORM/AIFF) samples are kept, named by content\n\n")
    f.write(table + "\n\n")
    f.write(f"skipped samples of mapped instruments: {skips}\n")

print(table)
print(f"skipped samples of mapped instruments: {skips}")
PY

rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "drums: $(find "$OUT" -maxdepth 1 -type f ! -name SOURCE.txt | wc -l) samples in $OUT"
