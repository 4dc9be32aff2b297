# Shared settings for the scripts in this folder. Sourced, not run.
#
# Everything that is built once per machine (the toolchain pieces that are not
# Debian packages, the kernel source and the built kernel trees) lives in
# $MACH_CACHE, outside the checkout, so that a second run and CI on the same
# machine reuse it.

MACH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MACH_CACHE=${MACH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/linux-mach}
MACH_BUILD=${MACH_BUILD:-$MACH_ROOT/build}

# The kernel series the module is developed against.
KERNEL_SERIES=7.2
LLVM_SUFFIX=-19
BINDGEN_VERSION=0.73.2
BINDGEN_ROOT=$MACH_CACHE/tools
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
export PATH=$BINDGEN_ROOT/bin:$HOME/.cargo/bin:$PATH

# The kernel's make needs Debian's rustc (it ships the matching core source);
# user-space crates keep using rustup's cargo.
KMAKE_FLAGS=(LLVM=$LLVM_SUFFIX RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc BINDGEN=$BINDGEN_ROOT/bin/bindgen)

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a long command with its output in a log file, printing a progress line
# every 30 seconds and the log's tail if it fails.
run_logged() {
    local log=$1; shift
    local start=$SECONDS
    "$@" >"$log" 2>&1 &
    local pid=$!
    local next=$((start + 30))
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        if ((SECONDS >= next)) && kill -0 "$pid" 2>/dev/null; then
            printf '    ... %ds, %s\n' $((SECONDS - start)) "$(tail -n 1 "$log" | cut -c1-100)" >&2
            next=$((next + 30))
        fi
    done
    if ! wait "$pid"; then
        tail -n 40 "$log" >&2
        die "failed: $* (full log: $log)"
    fi
}
