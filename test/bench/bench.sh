#!/usr/bin/env bash
# `make bench`: our ostree-ext image -> archive conversion, and the whole
# `create --local` job, against libostree's own bare-user -> archive
# conversion (`ostree pull-local`) of the same tree, for a ~300 MB / 20k-file
# tree and one twice as large, with the output on tmpfs and on disk in the
# same run.
#
# Fixtures (tree, bare-user and archive repos made by the real `ostree
# commit`, ostree-ext images in OCI layouts with gzip and uncompressed
# layers) are cached in .cache/bench/fixtures/<parameters>/, so reruns only
# measure; inputs are read from there whatever the medium. Every command runs
# once to warm up, then BENCH_RUNS times, round-robin over the media and
# commands so that slow phases of the machine hit all of them; the tables
# show medians. Before each timed run the command's inputs are read again
# (this VM pages out page cache left untouched for ~1 min) and `sync`
# flushes what earlier runs wrote.
#
# libostree's pull-local ends with syncfs() and directory fsyncs, which ours
# does not do, so it is measured both ways: with core.fsync=false (the
# like-for-like peer: the ratio the targets apply to, printed first) and as
# shipped. Sizes compare the objects only: the summed sizes of the files in
# an archive repository's objects/, and for create the same inside its
# output image (convbench objsize reads the tar).
#
# The floor, measured in the same run with nothing written: `gzip -dc` of the
# gzip layers piped to sha256sum, `gzip -6` of the uncompressed layers (one
# core), and convbench floor, the same work done with our own compression
# library on all CPUs (digests, gunzip, per-file sha256 and flate -6), and
# convbench floor -create, which adds create's own work (the sha256 of the
# delta parts and of the archive layer). "x floor" is our wall time over
# the floor of the same work (convert: floor; create: floor -create); the
# summary also gives the floor's own ratio to libostree, the best any
# converter doing this work with these libraries could reach here.
#
# Knobs (environment):
#   BENCH_RUNS (3) timed runs per command; BENCH_SCALES ("1 2") tree sizes;
#   BENCH_MEDIA ("tmpfs disk"): where outputs go, tmpfs = BENCH_TMPFS (default
#     /dev/shm/ocne-bench), disk = BENCH_OUT (default .cache/bench/out); give
#     each checkout that benchmarks at the same time its own;
#   BENCH_PROFILE (1: always print CPU profiles of our gzip convert and of
#     the full create, run in-process by convbench; 0: never; default: when
#     one of our time ratios misses its target), on the first medium and scale;
#   fixture shape: BENCH_LAYERS (8), BENCH_EXTRA (8000 files of 0..64 KiB),
#     BENCH_SMALL (12000 files of 0..4 KiB), BENCH_BIG (16 MiB, one file).
# Quick try: BENCH_RUNS=1 BENCH_SCALES=1 BENCH_MEDIA=tmpfs test/bench/bench.sh
#
# Exits 0 when all measurements ran, whether or not targets were met; missed
# targets are marked MISSED.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

# Targets, like for like (against libostree with core.fsync=false).
CONVERT_TARGET=0.4     # ours convert / libostree wall time
CREATE_TARGET=0.5      # ours full create --local / libostree wall time
SIZE_MIN=0.98          # our objects / libostree's objects
SIZE_MAX=1.02
RSS_TARGET_MIB=128     # peak RSS of ours
RSS_GROWTH_TARGET=1.25 # peak RSS of the largest tree / the smallest: flat

RUNS=${BENCH_RUNS:-3}
read -ra SCALES <<<"${BENCH_SCALES:-1 2}"
read -ra MEDIA <<<"${BENCH_MEDIA:-tmpfs disk}"
PROFILE=${BENCH_PROFILE:-auto}
declare -A OUTROOT=([tmpfs]=${BENCH_TMPFS:-/dev/shm/ocne-bench} [disk]=${BENCH_OUT:-$CACHE/out})

SIDES=(libostree-nofsync libostree gzip none create)
FLOORS=(floor-gunzip floor-gzip6 floor-ours floor-create)
declare -A LABEL=(
  [libostree-nofsync]="libostree pull-local, core.fsync=false"
  [libostree]="libostree pull-local, fsync"
  [gzip]="ours convert, gzip layers"
  [none]="  ours convert, uncompressed (info)"
  [create]="ours create --local (gzip), full"
  [floor-gunzip]="gzip -dc layers | sha256sum"
  [floor-gzip6]="gzip -6 uncompressed layers, 1 core"
  [floor-ours]="convbench floor, $(nproc) CPUs"
  [floor-create]="convbench floor -create, $(nproc) CPUs"
)
# TARGET[side]: its time target; sides without one are for information.
declare -A TARGET=([gzip]=$CONVERT_TARGET [create]=$CREATE_TARGET)

((RUNS >= 1)) || die "BENCH_RUNS=$RUNS: give at least 1"
for m in "${MEDIA[@]}"; do
  [[ -n ${OUTROOT[$m]:-} ]] || die "BENCH_MEDIA: unknown medium '$m': use tmpfs and/or disk"
done
need_packages time
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# --- helpers -----------------------------------------------------------------
# command_for SIDE OUTDIR: sets CMD to the command line of SIDE writing into
# OUTDIR (which must not exist).
command_for() {
  local o=$2
  case $1 in
  libostree) CMD=(sh -c "ostree --repo=$o init --mode=archive && ostree --repo=$o pull-local $FIX/bareuser $REF") ;;
  libostree-nofsync) CMD=(sh -c "ostree --repo=$o init --mode=archive && ostree --repo=$o config set core.fsync false && ostree --repo=$o pull-local $FIX/bareuser $REF") ;;
  gzip) CMD=("$CONVBENCH" convert -src "oci:$FIX/oci-gzip:$TAG" -out "$o") ;;
  none) CMD=("$CONVBENCH" convert -src "oci:$FIX/oci-none:$TAG" -out "$o") ;;
  create) CMD=("$PLUGIN" create --local --os-registry "oci:$FIX/oci-gzip" --os-tag "$TAG" --version "$TAG" --output-file "$o/ock.tar") ;;
  floor-gunzip) CMD=(sh -c "xargs gzip -dc <$SCRATCH/layers-gzip | sha256sum >/dev/null") ;;
  floor-gzip6) CMD=(sh -c "xargs gzip -6 -c <$SCRATCH/layers-none >/dev/null") ;;
  floor-ours) CMD=("$CONVBENCH" floor -layout "$FIX/oci-gzip") ;;
  floor-create) CMD=("$CONVBENCH" floor -create -layout "$FIX/oci-gzip") ;;
  esac
}

# inputs_for SIDE: what SIDE reads.
inputs_for() {
  case $1 in
  libostree*) echo "$FIX/bareuser" ;;
  gzip | create | floor-gunzip | floor-ours | floor-create) echo "$FIX/oci-gzip" ;;
  none | floor-gzip6) echo "$FIX/oci-none" ;;
  esac
}

# file_bytes DIR: the summed sizes of the regular files below DIR (without
# the directories, whose sizes differ between filesystems).
file_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

# measure KEY SIDE OUTDIR: runs SIDE once under GNU time; appends to
# T/R/C[KEY] unless KEY is empty (a warm-up).
declare -A T R C
measure() {
  local key=$1 side=$2 o=$3 tf e m u s
  command_for "$side" "$o"
  tf=$SCRATCH/time
  # shellcheck disable=SC2046
  warm $(inputs_for "$side") "$CONVBENCH" "$PLUGIN"
  sync
  if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "${CMD[@]}" >"$SCRATCH/log" 2>&1; then
    cat "$SCRATCH/log" "$tf" >&2
    die "$side failed: ${CMD[*]}"
  fi
  read -r e m u s <"$tf"
  if [[ -n $key ]]; then
    T[$key]+=" $e"
    R[$key]+=" $m"
    C[$key]+=" $(calc "%.2f" "$u+$s")"
  fi
}

# inspect KEY SIDE OUTDIR: checks what SIDE wrote and records its sizes in
# SIZE (objects) and OUTSIZE (everything).
declare -A SIZE OUTSIZE
inspect() {
  local key=$1 side=$2 o=$3 got objbytes tarbytes
  case $side in
  libostree* | gzip | none)
    got=$(ostree --repo="$o" rev-parse "$REF")
    [[ $got == "$commit_s" ]] || die "$side wrote $REF=$got, want $commit_s"
    SIZE[$key]=$(file_bytes "$o/objects")
    OUTSIZE[$key]=$(file_bytes "$o")
    ;;&
  gzip)
    ostree --repo="$o" fsck >"$SCRATCH/fsck.log" 2>&1 || { cat "$SCRATCH/fsck.log" >&2; die "ostree fsck of our archive failed"; }
    ;;
  create)
    read -r _ objbytes tarbytes <<<"$("$CONVBENCH" objsize -archive "$o/ock.tar" | tr '=' ' ' | awk '{print $2, $4, $6}')"
    SIZE[$key]=$objbytes
    OUTSIZE[$key]=$tarbytes
    ;;
  esac
}

# check NAME VALUE AWK-EXPR: sets NAME to "ok" or "MISSED" (noted in
# MISSED_ANY) as the expression in v holds for VALUE.
MISSED_ANY=
check() {
  local verdict
  verdict=$(mark "$2" "$3")
  printf -v "$1" %s "$verdict"
  [[ $verdict == ok ]] || MISSED_ANY=1
}

fstype() { stat -f -c %T "$1"; }

# The tables' rows: a command's results, and a floor measurement.
row() { printf '%-38s %6s %-20s %6s %7s %7s %7s  %-11s %-6s %-6s %-6s %-11s %-6s\n' "$@"; }
floor_row() { printf '%-38s %6s %-20s %6s %7s %7s  %s\n' "$@"; }

# --- run -----------------------------------------------------------------------
START=$SECONDS
declare -A MED_T MED_R MED_C
SUMMARY=()
TIME_MISSED=
for s in "${SCALES[@]}"; do
  fixture "$s"
  # shellcheck disable=SC1091
  source "$FIX/stats" # files, bytes, commit, layers
  # shellcheck disable=SC2154 # set by the stats file
  files_s=$files bytes_s=$bytes commit_s=$commit
  "$CONVBENCH" layers -layout "$FIX/oci-gzip" >"$SCRATCH/layers-gzip"
  "$CONVBENCH" layers -layout "$FIX/oci-none" >"$SCRATCH/layers-none"
  gz_bytes=$(xargs cat <"$SCRATCH/layers-gzip" | wc -c)
  none_bytes=$(xargs cat <"$SCRATCH/layers-none" | wc -c)
  for m in "${MEDIA[@]}"; do
    rm -rf "${OUTROOT[$m]:?}/${s}x"
    mkdir -p "${OUTROOT[$m]}/${s}x"
  done

  echo
  echo "=== tree ${s}x: $files_s files, $(mib "$bytes_s") MiB; commit ${commit_s:0:12}; image $LAYERS layers: gzip $(mib "$gz_bytes") MiB, uncompressed $(mib "$none_bytes") MiB"
  echo "    fixture: $FIX"
  for m in "${MEDIA[@]}"; do
    printf '    %-6s   %s/%sx (%s; OUT = a fresh directory per run)\n' "$m:" "${OUTROOT[$m]}" "$s" "$(fstype "${OUTROOT[$m]}")"
  done
  echo "    commands (each under /usr/bin/time -f '%e %M %U %S'):"
  for side in "${SIDES[@]}" "${FLOORS[@]}"; do
    command_for "$side" OUT
    printf '      %-18s %s\n' "$side:" "$(shell_words "${CMD[@]}")"
  done
  echo "      (layers-gzip, layers-none: the layer blobs of oci-gzip and oci-none, from convbench layers -layout DIR)"

  # One untimed warm-up of each (round 0), then the timed rounds; the first
  # timed output of each is checked and sized, every output removed at once.
  timed() { if ((r)); then echo "$1"; fi; }
  for ((r = 0; r <= RUNS; r++)); do
    for m in "${MEDIA[@]}"; do
      for side in "${SIDES[@]}"; do
        k=$s:$m:$side o=${OUTROOT[$m]}/${s}x/run$r-$side
        measure "$(timed "$k")" "$side" "$o"
        if ((r == 1)); then inspect "$k" "$side" "$o"; fi
        rm -rf "$o"
      done
    done
    for side in "${FLOORS[@]}"; do
      measure "$(timed "$s:floor:$side")" "$side" ""
    done
  done
  for k in "${!T[@]}"; do
    [[ $k == "$s":* ]] || continue
    MED_T[$k]=$(median <<<"${T[$k]}")
    MED_R[$k]=$(median <<<"${R[$k]}")
    MED_C[$k]=$(median <<<"${C[$k]}")
  done
  # FLOOR_OF[side]: the floor a side is measured against.
  declare -A FLOOR_OF=([gzip]=floor-ours [none]=floor-ours [create]=floor-create)

  for m in "${MEDIA[@]}"; do
    nof=$s:$m:libostree-nofsync fsy=$s:$m:libostree
    echo
    row "tree ${s}x on $m, median of $RUNS" "wall" "(each run)" "CPU" "peakRSS" "objects" "output" "time/lib" "target" "time/" "x" "size/lib" "RSS"
    row "" "s" "" "s" "MiB" "MiB" "MiB" "nofsync" "" "fsync" "floor" "$SIZE_MIN..$SIZE_MAX" "<$RSS_TARGET_MIB"
    for side in "${SIDES[@]}"; do
      k=$s:$m:$side
      ncol="" tgt="" fcol="" xcol="" scol="" rcol="" tm="" sm=""
      if [[ $side != libostree* ]]; then
        rn=$(calc "%.2f" "${MED_T[$k]}/${MED_T[$nof]}")
        fcol=$(calc "%.2f" "${MED_T[$k]}/${MED_T[$fsy]}")
        floor_t=${MED_T[$s:floor:${FLOOR_OF[$side]}]}
        xcol=$(calc "%.2f" "${MED_T[$k]}/$floor_t")
        rs=$(calc "%.3f" "${SIZE[$k]}/${SIZE[$nof]}")
        rss=$(mib "${MED_R[$k]}*1024")
        ncol=$rn scol=$rs
        if [[ -n ${TARGET[$side]:-} ]]; then
          tgt="<=${TARGET[$side]}"
          check tm "$rn" "v <= ${TARGET[$side]}"
          [[ $tm == ok ]] || TIME_MISSED=1
          check sm "$rs" "v >= $SIZE_MIN && v <= $SIZE_MAX"
          check rcol "$rss" "v < $RSS_TARGET_MIB"
          ncol+=" $tm" scol+=" $sm"
          # Where the floor alone stands against the same libostree
          # run: a target below it cannot be met by doing this work.
          fl=$(calc "%.2f" "$floor_t/${MED_T[$nof]}")
          SUMMARY+=("${s}x $m $side: time/libostree(fsync=false) $rn $tm (<= ${TARGET[$side]}; the floor alone is $fl), time/libostree(fsync) $fcol, x floor $xcol; size $rs $sm; peak RSS $rss MiB $rcol")
        fi
      fi
      row "${LABEL[$side]}" "${MED_T[$k]}" "(${T[$k]# })" "${MED_C[$k]}" \
        "$(mib "${MED_R[$k]}*1024")" "$(mib "${SIZE[$k]}")" "$(mib "${OUTSIZE[$k]}")" "$ncol" "$tgt" "$fcol" "$xcol" "$scol" "$rcol"
    done
  done
  echo "(time/lib nofsync: against libostree with core.fsync=false, which like ours leaves the data to the kernel's writeback: the"
  echo " like-for-like ratio the targets apply to; time/fsync: against libostree as shipped, which ends with syncfs() and fsyncs of"
  echo " its object dirs. objects: the files of objects/, for create inside its image; output: all that was written.)"

  echo
  floor_row "floor, tree ${s}x, median of $RUNS" "wall" "(each run)" "CPU" "peakRSS" "input" "work"
  floor_row "(nothing written, inputs warm)" "s" "" "s" "MiB" "MiB" ""
  for side in "${FLOORS[@]}"; do
    k=$s:floor:$side
    case $side in
    floor-gunzip) in=$gz_bytes work="gunzip + sha256 of the uncompressed stream, 2 processes" ;;
    floor-gzip6) in=$none_bytes work="deflate (gzip -6) of the uncompressed layers, one process" ;;
    floor-ours) in=$gz_bytes work="blob and diff_id sha256, gunzip, per-file sha256 and flate -6 (klauspost)" ;;
    floor-create) in=$gz_bytes work="and create's: the delta parts' sha256, the archive layer's sha256" ;;
    esac
    floor_row "${LABEL[$side]}" "${MED_T[$k]}" "(${T[$k]# })" "${MED_C[$k]}" "$(mib "${MED_R[$k]}*1024")" "$(mib "$in")" "$work"
  done
  for m in "${MEDIA[@]}"; do
    rm -rf "${OUTROOT[$m]:?}/${s}x"
  done
done

# Memory must not grow with the tree.
if ((${#SCALES[@]} >= 2)); then
  a=${SCALES[0]} b=${SCALES[-1]}
  echo
  echo "=== peak RSS growth, tree ${b}x / ${a}x (target < $RSS_GROWTH_TARGET: flat, does not scale with the tree)"
  for m in "${MEDIA[@]}"; do
    for side in gzip none create; do
      ra=${MED_R[$a:$m:$side]} rb=${MED_R[$b:$m:$side]}
      g=$(calc "%.2f" "$rb/$ra")
      gm=""
      if [[ -n ${TARGET[$side]:-} ]]; then
        check gm "$g" "v < $RSS_GROWTH_TARGET"
        SUMMARY+=("RSS growth ${b}x/${a}x $m $side: x$g $gm")
      fi
      printf '  %-6s %-38s %7s -> %7s MiB  x%s %s\n' "$m" "${LABEL[$side]}" "$(mib "$ra*1024")" "$(mib "$rb*1024")" "$g" "$gm"
    done
  done
fi

echo
echo "=== summary (targets, like for like: convert <= $CONVERT_TARGET, create <= $CREATE_TARGET of libostree's time; size $SIZE_MIN..$SIZE_MAX; peak RSS < $RSS_TARGET_MIB MiB; RSS growth < $RSS_GROWTH_TARGET)"
printf '  %s\n' "${SUMMARY[@]}"
if [[ -n $MISSED_ANY ]]; then echo "  (some targets MISSED)"; fi

# CPU profiles of our convert and our full create, on the first medium and
# scale, when a time target is missed (or on request).
# print_profile PROF WHAT
print_profile() {
  echo
  echo "=== CPU profile of $2: $1"
  echo "    (go tool pprof -top -nodecount=20 $1; then -top -cum)"
  go tool pprof -top -nodecount=20 "$1" 2>/dev/null | sed -n '/flat%/,$p'
  echo
  go tool pprof -top -cum -nodecount=40 "$1" 2>/dev/null | sed -n '/flat%/,$p'
}
if [[ $PROFILE == 1 || ($PROFILE == auto && -n $TIME_MISSED) ]]; then
  s=${SCALES[0]} m=${MEDIA[0]}
  fixture "$s"
  o=${OUTROOT[$m]}/profile
  rm -rf "$o"
  mkdir -p "$o"
  prof_convert=$CACHE/cpu-${s}x-$m-convert.prof
  prof_create=$CACHE/cpu-${s}x-$m-create.prof
  # Each runs once unprofiled to warm up, then with the profile.
  for prof in "" "$prof_convert"; do
    rm -rf "$o/convert"
    warm "$FIX/oci-gzip"
    sync
    "$CONVBENCH" convert -src "oci:$FIX/oci-gzip:$TAG" -out "$o/convert" -cpuprofile "${prof:-/dev/null}" >/dev/null
  done
  for prof in "" "$prof_create"; do
    rm -rf "$o/create"
    warm "$FIX/oci-gzip"
    sync
    "$CONVBENCH" create -os-registry "oci:$FIX/oci-gzip" -os-tag "$TAG" -version "$TAG" -output "$o/create/ock.tar" -cpuprofile "${prof:-/dev/null}" >/dev/null
  done
  rm -rf "$o"
  print_profile "$prof_convert" "our ${s}x gzip convert on $m"
  print_profile "$prof_create" "our ${s}x full create --local on $m (convbench create: builder.Build in-process)"
fi

echo
echo "bench: done in $((SECONDS - START))s (ostree $OSTREE_VERSION, $(nproc) CPUs, $RUNS runs per measurement)"
