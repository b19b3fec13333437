#!/bin/sh
# Builds loophttp in release mode (quietly; instant when already built) and
# runs it with the given flags. Works from any working directory, and
# relative paths in the flags (--directory ./public) mean the caller's.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
cargo build --release --quiet --locked --manifest-path "$here/Cargo.toml"
# The tutorial's stages upload and delete files, so this entry point turns
# writes on (--allow-upload, --allow-delete). loophttp itself is read-only
# unless told: run target/release/loophttp directly for that default.
exec "$here/target/release/loophttp" --allow-upload --allow-delete "$@"
