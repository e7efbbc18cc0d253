//! Running code inside a container's network namespace.
//!
//! `setns(CLONE_NEWNET)` changes the namespace of the calling *thread* only, so the
//! work runs on a fresh OS thread that ends right after: a socket created there stays
//! in that namespace for life, and no thread that has left the host namespace is ever
//! reused. It must never run on a tokio worker or `spawn_blocking` thread, which would
//! go back to the pool inside the container's namespace.

use std::fs::File;
use std::path::Path;

use nix::sched::{CloneFlags, setns};
use tokio::sync::oneshot;

use crate::error::{NetworkError, Result};

/// Runs `work` on a new thread inside the network namespace at `netns`
/// (`/proc/<pid>/ns/net` or a bind-mounted netns file such as `/run/netns/NAME`) and
/// returns its result.
///
/// Sockets created by `work` belong to that namespace and may be returned and used from
/// anywhere. Awaiting never blocks the async runtime.
pub async fn run_in_netns<T, F>(netns: &Path, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = netns.to_path_buf();
    let ns_error = |path: &Path, source| NetworkError::Namespace {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(&path).map_err(|e| ns_error(&path, e))?;
    let (tx, rx) = oneshot::channel();
    let thread_path = path.clone();
    std::thread::Builder::new()
        .name("berth-netns".into())
        .spawn(move || {
            let outcome = enter(&thread_path, &file).map(|()| work());
            // The receiver only goes away when the caller gave up; nothing to report.
            let _ = tx.send(outcome);
        })
        .map_err(|e| ns_error(&path, e))?;
    rx.await.map_err(|_| {
        ns_error(
            &path,
            std::io::Error::other("the namespace thread panicked"),
        )
    })?
}

fn enter(path: &Path, file: &File) -> Result<()> {
    setns(file, CloneFlags::CLONE_NEWNET).map_err(|errno| NetworkError::Namespace {
        path: path.to_path_buf(),
        source: errno.into(),
    })
}
