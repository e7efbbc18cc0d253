//! `berth-monitor`: the per-container supervisor the runner starts for each container
//! (see `berth_runtime::monitor`). It must stay single-threaded and tokio-free:
//! libcontainer clones this process.

fn main() {
    berth_runtime::monitor::main()
}
