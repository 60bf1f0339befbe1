#!/usr/bin/env bash
# libFuzzer over the front end and the driver, in process (not part of
# .ci/run or `swift build`): the library targets are built with coverage
# instrumentation into their own build folder, then linked with the entry
# point in .ci/libfuzzer/ and libFuzzer. The corpus is seeded from
# samples/*.blv; crashes land in .build/libfuzzer/crashes.
# Usage: .ci/fuzz-libfuzzer.sh [SECONDS]   (default 600; extra libFuzzer
# flags in FUZZ_FLAGS, the build configuration in FUZZ_CONFIG=release|debug)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
config="${FUZZ_CONFIG:-release}"
out=.build/libfuzzer
swift build -c "$config" --build-path "$out/build" --target BilevelDriver \
  -Xswiftc -sanitize=fuzzer
bin="$(swift build -c "$config" --build-path "$out/build" --show-bin-path)"
objects=()
for t in BilevelFrontEnd BilevelCPUFeatures BilevelKernelsAVX512 BilevelCore BilevelSolvers \
  BilevelDriver; do
  while IFS= read -r o; do objects+=("$o"); done < <(find "$bin/$t.build" -name '*.o')
done
swiftc -sanitize=fuzzer -parse-as-library -enable-bare-slash-regex -O -I "$bin/Modules" -I "$bin" \
  -Xcc -fmodule-map-file="$bin/BilevelCPUFeatures.build/module.modulemap" \
  -Xcc -I -Xcc Sources/BilevelCPUFeatures/include \
  .ci/libfuzzer/FuzzEntry.swift "${objects[@]}" -o "$out/fuzz-driver"
mkdir -p "$out/corpus" "$out/crashes"
cp samples/*.blv "$out/corpus/"
BILEVELC_SAMPLES="$PWD/samples" "$out/fuzz-driver" "$out/corpus" \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=4096 \
  -artifact_prefix="$out/crashes/" -print_final_stats=1 ${FUZZ_FLAGS:-}
