//! Real-container tests of berth-runtime. They need root, cgroups, /bin/busybox
//! (busybox-static) and, for the comparison set, runc (`apt-get install runc`). Each test
//! has its own state directory and a cgroup parent below this process's own cgroup, and a
//! guard removes both (and any container left) even when the test fails.

mod basics;
mod exec;
mod limits;
mod logs;
mod monitor;
mod runc;
mod support;
