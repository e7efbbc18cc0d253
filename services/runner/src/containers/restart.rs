//! Starting exited containers again: `docker start` on an exited container, `docker
//! restart`, and the restart policies (`no`, `on-failure[:N]`, `always`,
//! `unless-stopped`), which are also applied when a runner comes back after a crash.
//!
//! As in Docker, an exited container starts again as a new process on the same root
//! (what it wrote stays), with the same configuration, log and name. The runtime's
//! monitor lives for one run only, so a new run is a delete and create of the runtime
//! container under the same ID.

use std::sync::Arc;
use std::time::Duration;

use super::ContainerError;
use super::spec::{RestartPolicy, RestartPolicyName};

use super::record::Record;
use super::{Containers, blocking};

/// Docker's restart manager doubles its delay from 100 ms after each restart and starts
/// over once a run lasted 10 s; the same numbers here, so a crash loop behaves alike.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
const STABLE_RUN: Duration = Duration::from_secs(10);

/// An attach waiting for a container's next run.
#[derive(Debug)]
pub struct PendingAttach {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    reply: tokio::sync::oneshot::Sender<Result<berth_runtime::Session, ContainerError>>,
}

/// Why a container stopped, as far as the restart policy cares.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub code: i32,
    /// `docker stop` or `docker kill` ended it.
    pub manually_stopped: bool,
}

/// Whether `policy` starts a container again after `exit`; `restarts` is how often the
/// policy already did. `at_boot` is the decision a returning runner makes for containers
/// that exited while it was away (Docker's daemon start): `always` then restarts even a
/// container the user stopped.
pub fn should_restart(policy: &RestartPolicy, exit: Exit, restarts: u32, at_boot: bool) -> bool {
    match policy.name {
        RestartPolicyName::Always => at_boot || !exit.manually_stopped,
        RestartPolicyName::UnlessStopped => !exit.manually_stopped,
        RestartPolicyName::OnFailure => {
            let max = policy.max_retry_count;
            !exit.manually_stopped && exit.code != 0 && (max <= 0 || (restarts as i32) < max)
        }
        RestartPolicyName::No => false,
    }
}

/// The delay before the next restart, given the previous one and how long the last run
/// lasted.
pub fn next_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    match previous {
        Some(d) if ran_for < STABLE_RUN => (d * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

impl Containers {
    /// Starts an exited container again, as `docker start` does.
    pub async fn rerun(self: &Arc<Self>, record: &Record) -> Result<(), ContainerError> {
        // Between the runtime's delete and the new monitor's first report the container
        // has no runtime state: inspect and ps show it as restarting meanwhile.
        self.restarting.lock().await.insert(record.id.clone());
        let result = self.rerun_now(record).await;
        self.restarting.lock().await.remove(&record.id);
        if result.as_ref().is_ok_and(|started| *started) {
            self.died.lock().await.remove(&record.id);
            self.emit("start", &record.id, &[]).await;
            self.watch_exit(record.id.clone());
        }
        result.map(|_| ())
    }

    /// Returns whether it started the container (false: it was running already).
    async fn rerun_now(self: &Arc<Self>, record: &Record) -> Result<bool, ContainerError> {
        // A policy restart and a `docker start` may meet here; the second finds the
        // container running and leaves it be.
        let _one_at_a_time = self.reruns.lock().await;
        let this = self.clone();
        let rec = record.clone();
        let handle = blocking(move || {
            let st = this.runtime.state(&rec.id).map_err(ContainerError::from)?;
            if st.status != berth_runtime::Status::Exited {
                return Ok(None);
            }
            let mut config = this.runtime.config(&rec.id).map_err(ContainerError::from)?;
            let fs = this.fs(&rec.id);
            // A reboot may have taken the overlay away; mounting a mounted root is a no-op.
            this.runtime
                .mount_root(&fs, &rec.lowers)
                .map_err(|e| ContainerError::internal(e.to_string()))?;
            // Fresh files for the new run (the host's may have changed), and mounts for
            // containers made before berth bind-mounted them.
            config.engine_files =
                crate::networks::prepare_etc_files(&fs.dir, &config.hostname, &config.network)?;
            this.runtime
                .delete(&rec.id, false)
                .map_err(ContainerError::from)?;
            let handle = this
                .runtime
                .create(&rec.id, &config, &fs.rootfs())
                .map_err(ContainerError::from)?;
            for waiting in this
                .next_run_attaches
                .blocking_lock()
                .remove(&rec.id)
                .unwrap_or_default()
            {
                let session = this
                    .runtime
                    .attach(&rec.id, waiting.stdin, waiting.stdout, waiting.stderr)
                    .map_err(ContainerError::from);
                let _ = waiting.reply.send(session);
            }
            Ok(Some(handle))
        })
        .await;
        let Some(handle) = handle? else {
            return Ok(false);
        };
        let mut record = self.find(&record.id)?;
        record.manually_stopped = false;
        self.save(&record)?;
        // The last run's exit watcher normally did this already; the new run's process
        // then joins the same networks, with new veths and its ports published again.
        self.networks.unplug(&**self, &record.id).await;
        self.networks.plug(&**self, &record.id, handle.pid).await?;
        let this = self.clone();
        let id = record.id.clone();
        blocking(move || this.runtime.start(&id).map_err(ContainerError::from)).await?;
        Ok(true)
    }

    /// Registers an attach that the container's next run answers (`docker start -a` on
    /// an exited container).
    pub async fn attach_next_run(
        &self,
        id: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> tokio::sync::oneshot::Receiver<Result<berth_runtime::Session, ContainerError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.next_run_attaches
            .lock()
            .await
            .entry(id.to_owned())
            .or_default()
            .push(PendingAttach {
                stdin,
                stdout,
                stderr,
                reply: tx,
            });
        rx
    }

    /// Keeps the record (and the spec beside it) as they are now.
    pub fn save(&self, record: &Record) -> Result<(), ContainerError> {
        let spec = self
            .records
            .spec(&record.id)
            .map_err(|e| ContainerError::internal(e.to_string()))?
            .unwrap_or_default();
        self.records
            .put(record, &spec)
            .map_err(|e| ContainerError::internal(e.to_string()))
    }

    /// Marks a container as stopped by its user (`docker stop`, `docker kill`), which
    /// turns its restart policy off until it is started again.
    pub fn mark_stopped(&self, id: &str) -> Result<(), ContainerError> {
        let mut record = self.find(id)?;
        if !record.manually_stopped {
            record.manually_stopped = true;
            self.save(&record)?;
        }
        Ok(())
    }

    /// Applies the restart policy after a run of container `id` ended.
    pub(super) async fn after_exit(self: &Arc<Self>, id: &str, code: i32, ran_for: Duration) {
        let Ok(record) = self.find(id) else {
            return; // removed meanwhile
        };
        let Some(policy) = self.policy(id) else {
            return;
        };
        let exit = Exit {
            code,
            manually_stopped: record.manually_stopped,
        };
        if !should_restart(&policy, exit, record.restart_count, false) {
            self.backoff.lock().await.remove(id);
            return;
        }
        let delay = {
            let mut backoff = self.backoff.lock().await;
            let delay = next_delay(backoff.get(id).copied(), ran_for);
            backoff.insert(id.to_owned(), delay);
            delay
        };
        self.restarting.lock().await.insert(id.to_owned());
        tokio::time::sleep(delay).await;
        // Still "restarting" until the new run is up (rerun ends the mark) or the restart
        // is off: inspect in between must not show the old run as exited with the new
        // count.
        if !self.restart_by_policy(id).await {
            self.restarting.lock().await.remove(id);
        }
    }

    /// Restarts a container its policy wants running, unless the user stopped, started
    /// or removed it during the delay; returns whether it tried.
    async fn restart_by_policy(self: &Arc<Self>, id: &str) -> bool {
        let Ok(mut record) = self.find(id) else {
            return false;
        };
        let this = self.clone();
        let rid = id.to_owned();
        let exited = blocking(move || {
            Ok(this
                .runtime
                .state(&rid)
                .is_ok_and(|s| s.status == berth_runtime::Status::Exited))
        })
        .await
        .unwrap_or(false);
        if !exited || record.manually_stopped {
            return false;
        }
        record.restart_count += 1;
        if let Err(e) = self.save(&record) {
            tracing::warn!(container = id, error = %e, "recording the restart failed");
        }
        if let Err(e) = self.rerun(&record).await {
            tracing::warn!(container = id, error = %e, "restarting the container failed");
        }
        true
    }

    /// The container's restart policy, when it has one.
    fn policy(&self, id: &str) -> Option<RestartPolicy> {
        self.records
            .spec(id)
            .ok()
            .flatten()
            .and_then(|s| s.host_config)
            .and_then(|h| h.restart_policy)
    }

    /// What a returning runner does for a container that is not running: Docker's daemon
    /// start-up applies the restart policies to containers that exited while it was away.
    pub(super) async fn restart_at_boot(self: &Arc<Self>, record: &Record, code: i32) {
        let Some(policy) = self.policy(&record.id) else {
            return;
        };
        let exit = Exit {
            code,
            manually_stopped: record.manually_stopped,
        };
        if should_restart(&policy, exit, record.restart_count, true) {
            let mut record = record.clone();
            record.restart_count += 1;
            if let Err(e) = self.save(&record) {
                tracing::warn!(container = %record.id, error = %e, "recording the restart failed");
            }
            if let Err(e) = self.rerun(&record).await {
                tracing::warn!(container = %record.id, error = %e, "restarting the container failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: RestartPolicyName, max: i32) -> RestartPolicy {
        RestartPolicy {
            name,
            max_retry_count: max,
        }
    }

    fn exit(code: i32, manually_stopped: bool) -> Exit {
        Exit {
            code,
            manually_stopped,
        }
    }

    #[test]
    fn policies_follow_docker() {
        use RestartPolicyName as P;
        let no = policy(P::No, 0);
        assert!(!should_restart(&no, exit(1, false), 0, false));
        assert!(!should_restart(&no, exit(1, false), 0, true));

        let always = policy(P::Always, 0);
        assert!(should_restart(&always, exit(0, false), 5, false));
        assert!(!should_restart(&always, exit(137, true), 0, false));
        assert!(
            should_restart(&always, exit(137, true), 0, true),
            "always comes back when the runner does, even after docker stop"
        );

        let unless = policy(P::UnlessStopped, 0);
        assert!(should_restart(&unless, exit(0, false), 0, false));
        assert!(!should_restart(&unless, exit(0, true), 0, true));

        let on_failure = policy(P::OnFailure, 2);
        assert!(!should_restart(&on_failure, exit(0, false), 0, false));
        assert!(should_restart(&on_failure, exit(3, false), 1, false));
        assert!(!should_restart(&on_failure, exit(3, false), 2, false));
        assert!(should_restart(
            &policy(P::OnFailure, 0),
            exit(3, false),
            1000,
            false
        ));
    }

    #[test]
    fn the_delay_doubles_until_a_run_lasts() {
        let short = Duration::from_millis(5);
        let d1 = next_delay(None, short);
        let d2 = next_delay(Some(d1), short);
        assert_eq!(d1, FIRST_DELAY);
        assert_eq!(d2, FIRST_DELAY * 2);
        assert_eq!(next_delay(Some(MAX_DELAY), short), MAX_DELAY);
        assert_eq!(next_delay(Some(d2), STABLE_RUN), FIRST_DELAY);
    }
}
