//! The monitor's libcontainer helper, built as an example beside `berth-monitor` for
//! berth-runtime's own tests; the shipped binary is `services/runner/src/bin/berth-spawn.rs`.

fn main() {
    berth_runtime::spawn::main()
}
