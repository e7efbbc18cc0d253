//! Looking at containers: `docker top` (the host's `ps`, limited to the container's
//! processes), `docker stats` (its cgroup's counters), and `docker rename`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use super::{ContainerError, Containers, blocking};

/// One reading of a container's counters, with what Docker computes its shares against.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub read: SystemTime,
    pub cpu_usage_ns: u64,
    /// The host's CPU time (Docker's `system_cpu_usage`).
    pub system_cpu_ns: u64,
    pub online_cpus: u32,
    pub memory_usage: u64,
    pub memory_limit: u64,
    pub pids_current: u64,
    pub pids_limit: u64,
}

/// `ps` output limited to `pids`: Docker runs the host's ps and keeps the container's
/// rows, so `docker top` shows exactly what `ps` would, with the same columns.
fn filter_ps(
    output: &str,
    pids: &HashSet<i32>,
) -> Result<(Vec<String>, Vec<Vec<String>>), ContainerError> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| ContainerError::internal("ps printed nothing"))?;
    let titles: Vec<String> = header.split_whitespace().map(str::to_owned).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ContainerError::invalid("the ps arguments must keep the PID column"))?;
    let mut rows = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        if !fields[pid_col]
            .parse()
            .is_ok_and(|p: i32| pids.contains(&p))
        {
            continue;
        }
        // The last column (the command) keeps its spaces.
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|f| f.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        rows.push(row);
    }
    Ok((titles, rows))
}

/// The host's CPU time in nanoseconds, from /proc/stat: what Docker calls
/// `system_cpu_usage`, against which the container's share is computed.
fn system_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|hz| *hz > 0)
        .unwrap_or(100) as u64;
    ticks * (1_000_000_000 / hz)
}

impl Containers {
    /// `docker top`: the host's `ps` with `ps_args` (default `-ef`), the rows of the
    /// container's processes only; returns the titles and the rows.
    pub async fn top(
        self: &Arc<Self>,
        text: &str,
        ps_args: &str,
    ) -> Result<(Vec<String>, Vec<Vec<String>>), ContainerError> {
        let record = self.find(text)?;
        let this = self.clone();
        let args: Vec<String> = if ps_args.trim().is_empty() {
            vec!["-ef".to_owned()]
        } else {
            ps_args.split_whitespace().map(str::to_owned).collect()
        };
        blocking(move || {
            let pids: HashSet<i32> = this.runtime.processes(&record.id)?.into_iter().collect();
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| ContainerError::internal(format!("running ps: {e}")))?;
            if !out.status.success() {
                return Err(ContainerError::invalid(format!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
        })
        .await
    }

    /// One reading of the container's cgroup counters.
    pub async fn sample(self: &Arc<Self>, id: &str) -> Result<Sample, ContainerError> {
        let (this, id) = (self.clone(), id.to_owned());
        blocking(move || {
            let s = this.runtime.stats(&id)?;
            Ok(Sample {
                read: SystemTime::now(),
                cpu_usage_ns: s.cpu_usage_ns,
                system_cpu_ns: system_cpu_ns(),
                online_cpus: std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1),
                memory_usage: s.memory_usage,
                memory_limit: s.memory_limit.unwrap_or(0),
                pids_current: s.pids_current,
                pids_limit: s.pids_limit.unwrap_or(0),
            })
        })
        .await
    }

    /// Whether the container's process still runs (or is paused).
    pub fn is_running(&self, id: &str) -> bool {
        self.runtime
            .state(id)
            .is_ok_and(|s| s.status != berth_runtime::Status::Exited)
    }

    /// `docker rename`.
    pub async fn rename(
        self: &Arc<Self>,
        text: &str,
        new_name: &str,
    ) -> Result<(), ContainerError> {
        let new = new_name.trim_start_matches('/').to_owned();
        if !crate::naming::valid_name(&new) {
            return Err(ContainerError::invalid(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let names = self.names.lock().await;
        let record = self.find(text)?;
        if self
            .records
            .find(&new)
            .ok()
            .flatten()
            .is_some_and(|o| o.name == new)
        {
            return Err(ContainerError::conflict(format!(
                "Conflict. The container name \"/{new}\" is already in use"
            )));
        }
        self.records.update(&record.id, |r| r.name = new)?;
        drop(names);
        self.networks.renamed(&**self, &record.id).await;
        self.emit("rename", &record.id, &[]).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_container_rows_and_whole_commands() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init splash\nroot 42 1 0 10:01 ? 00:00:00 sleep 1000\n";
        let (titles, rows) = filter_ps(ps, &HashSet::from([42])).unwrap();
        assert_eq!(titles.len(), 8);
        assert_eq!(
            rows,
            vec![vec![
                "root",
                "42",
                "1",
                "0",
                "10:01",
                "?",
                "00:00:00",
                "sleep 1000"
            ]]
        );
        assert!(filter_ps("USER COMMAND\nroot x\n", &HashSet::new()).is_err());
    }
}
