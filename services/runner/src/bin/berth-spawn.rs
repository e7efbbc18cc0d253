//! `berth-spawn`: the short-lived helper berth-monitor runs to create, start and exec
//! through libcontainer (see `berth_runtime::spawn`). Single-threaded: libcontainer clones
//! this process.

fn main() {
    berth_runtime::spawn::main()
}
