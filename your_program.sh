#!/bin/sh
# Builds loophttp in release mode (quietly; instant when already built) and
# runs it with the given flags, from any working directory.
set -e
cd "$(dirname "$0")"
cargo build --release --quiet --locked
exec ./target/release/loophttp "$@"
