# Shared by the bench scripts (sourced): moves to the repository root and picks the binary.
#   INTERLUDE_BINARY   the interlude executable to measure (default .build/release/interlude)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
binary=${INTERLUDE_BINARY:-.build/release/interlude}

# Exits with a message naming the script ($1) when the binary is missing.
require_binary() {
    [[ -x "$binary" ]] || { echo "$1: $binary is missing; run 'swift build -c release --product interlude' first" >&2; exit 1; }
}
