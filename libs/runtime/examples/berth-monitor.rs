//! The per-container monitor, built as an example so berth-runtime's own tests can start
//! it (with `berth-spawn` beside it); the shipped binary is
//! `services/runner/src/bin/berth-monitor.rs`.

fn main() {
    berth_monitor::main()
}
