#!/bin/sh
# Builds loophttp in release mode (quietly; instant when already built) and
# runs it with the given flags. Works from any working directory, and
# relative paths in the flags (--directory ./public) mean the caller's.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
cargo build --release --quiet --locked --manifest-path "$here/Cargo.toml"
exec "$here/target/release/loophttp" "$@"
