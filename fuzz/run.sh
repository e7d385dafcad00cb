#!/usr/bin/env bash
# Runs every fuzz target for a while, stopping at the first crash.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]     fuzz each target that long (default 10)
#   fuzz/run.sh replay                   run the saved crash inputs in fuzz/regressions/ once
#
# Environment:
#   FUZZ_TARGETS="money date"   only these targets (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER=none         cargo-fuzz's --sanitizer (default: address, cargo-fuzz's own
#                               default; `none` builds and runs faster, and the code under test
#                               is safe Rust)
#
# Needs nightly features, which the stable toolchain allows with RUSTC_BOOTSTRAP=1 (set here).
# Installs cargo-fuzz if it is missing. Build output goes to fuzz/target/, new corpus entries
# to fuzz/corpus/<target>/, crashes to fuzz/artifacts/<target>/ (all ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
MODE=${1:-10}
SANITIZER=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

if [[ "$MODE" != replay && ! "$MODE" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: fuzz/run.sh [SECONDS_PER_TARGET | replay]" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
cargo fuzz --version

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${#targets[@]} targets (sanitizer: $SANITIZER)"
build_started=$SECONDS
if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  for target in "${targets[@]}"; do
    cargo fuzz build --sanitizer "$SANITIZER" "$target"
  done
else
  cargo fuzz build --sanitizer "$SANITIZER"
fi
echo "== built in $((SECONDS - build_started)) s"

if [[ "$MODE" == replay ]]; then
  failed=()
  for target in "${targets[@]}"; do
    inputs=("$PWD"/fuzz/regressions/"$target"/*)
    [[ -e "${inputs[0]}" ]] || continue
    echo "== replaying ${#inputs[@]} saved input(s) of $target"
    if ! cargo fuzz run --sanitizer "$SANITIZER" "$target" "${inputs[@]}" -- -runs=0; then
      failed+=("$target")
    fi
  done
  if ((${#failed[@]})); then
    echo "== saved crash inputs still fail in: ${failed[*]} (see fuzz/README.md)" >&2
    exit 1
  fi
  echo "== every saved crash input passes"
  exit 0
fi

for target in "${targets[@]}"; do
  echo "== fuzzing $target for $MODE s"
  args=(-max_total_time="$MODE" -timeout=20 -print_final_stats=1)
  if [[ -f "fuzz/dicts/$target.dict" ]]; then
    args+=(-dict="$PWD/fuzz/dicts/$target.dict")
  fi
  # New inputs go to the first directory; the saved crash inputs are read (and so re-run) too.
  corpora=("$PWD/fuzz/corpus/$target")
  mkdir -p "${corpora[0]}"
  if [[ -d "fuzz/regressions/$target" ]]; then
    corpora+=("$PWD/fuzz/regressions/$target")
  fi
  if ! cargo fuzz run --sanitizer "$SANITIZER" "$target" "${corpora[@]}" -- "${args[@]}"; then
    echo >&2
    echo "== CRASH: fuzz target '$target' failed. The input that broke it is in" >&2
    echo "   fuzz/artifacts/$target/ (the path is printed above). Reproduce with:" >&2
    echo "   RUSTC_BOOTSTRAP=1 cargo fuzz run $target fuzz/artifacts/$target/<file>" >&2
    echo "   and keep it under fuzz/regressions/$target/ until the parser is fixed." >&2
    exit 1
  fi
done
echo "== all ${#targets[@]} targets ran ${MODE} s each without a crash"
