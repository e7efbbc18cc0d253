//! `berth-monitor`: the per-container supervisor the runner starts for each container
//! (see the `berth_monitor` crate). It must stay single-threaded and tokio-free, and it
//! links neither libcontainer nor anything of the runner: it lives as long as its
//! container, so every page it maps is paid once per container.

fn main() {
    berth_monitor::main()
}
