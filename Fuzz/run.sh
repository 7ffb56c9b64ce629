#!/usr/bin/env bash
# Builds KilnFuzz with libFuzzer and AddressSanitizer and runs each harness for a bounded time.
#   Fuzz/run.sh [SECONDS_PER_TARGET] [TARGET ...]      (default 600 s, every target)
# Not part of the test command. Crashing inputs are saved under Fuzz/crashes/TARGET/; replay one
# with `swift run KilnFuzz TARGET FILE` after fixing it, and keep it in Fuzz/regressions/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config spec image tokenizer lora embedding)
# libFuzzer's main and KilnFuzz's replay main both define main: the first (KilnFuzz's) wins and
# hands over to libFuzzer's driver when KILN_FUZZ_TARGET is set.
swift build --scratch-path .build-fuzz --product KilnFuzz -Xswiftc -sanitize=fuzzer,address \
    -Xlinker --allow-multiple-definition -Xlinker --export-dynamic >/dev/null
# Leak detection is off: the only report seen was one 4 KB allocation made once per process.
binary=.build-fuzz/debug/KilnFuzz
for target in "${targets[@]}"; do
    corpus="Fuzz/corpus/$target"; crashes="Fuzz/crashes/$target"
    mkdir -p "$corpus" "$crashes"
    [ -d "Fuzz/seeds/$target" ] && cp -n Fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    echo "== $target ($seconds s)"
    ASAN_OPTIONS=detect_leaks=0 KILN_FUZZ_TARGET="$target" "$binary" "$corpus" -max_total_time="$seconds" -runs=1000000 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -timeout=10 -detect_leaks=0 -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 \
        | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Done)" || true
done
