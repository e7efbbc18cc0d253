//! berth's end-to-end tests live in `tests/`; they drive the real binaries, so this library holds nothing.
