#!/usr/bin/env bash
# gzip (as loophttp compresses) against zstd, CPU per byte and ratio, on a
# corpus of real site text: the HTML, CSS and JavaScript files of 1-128 KiB
# this machine has under /usr/share and /usr/lib/node_modules (or the files
# given). Prints one table; the decision it informs is in docs/SITE.md.
set -euo pipefail
cd "$(dirname "$0")"
if (($# == 0)); then
    mapfile -t files < <(find /usr/share /usr/lib/node_modules -type f \( -name '*.html' -o -name '*.css' -o -name '*.js' \) \
        -size +1k -size -128k 2>/dev/null | sort)
else
    files=("$@")
fi
cargo run --release --quiet -- "${files[@]}"
