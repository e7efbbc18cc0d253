//! Looking at running containers: `docker top` (the host's `ps`, limited to the
//! container's processes) and `docker stats` (its cgroup's counters).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use berth_proto::v1::*;
use tonic::{Response, Status};

use crate::containers::Containers;
use crate::rpc::blocking;
use crate::rpc::status::runtime_status;

type Stream<T> = tonic::codegen::BoxStream<T>;

/// `ps` output limited to `pids`: Docker runs the host's ps and keeps the container's
/// rows, so `docker top` shows exactly what `ps` would, with the same columns.
fn filter_ps(output: &str, pids: &HashSet<i32>) -> Result<(Vec<String>, Vec<Vec<String>>), Status> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| Status::internal("ps printed nothing"))?;
    let titles: Vec<String> = header.split_whitespace().map(str::to_owned).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Status::invalid_argument("the ps arguments must keep the PID column"))?;
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

pub async fn top(c: &Arc<Containers>, r: TopRequest) -> Result<Response<TopResponse>, Status> {
    let record = c.find(&r.container)?;
    let this = c.clone();
    let (titles, rows) = blocking(move || {
        let pids: HashSet<i32> = this
            .runtime
            .processes(&record.id)
            .map_err(runtime_status)?
            .into_iter()
            .collect();
        let args: Vec<String> = if r.ps_args.trim().is_empty() {
            vec!["-ef".to_owned()]
        } else {
            r.ps_args.split_whitespace().map(str::to_owned).collect()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| Status::internal(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(Status::invalid_argument(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    })
    .await?;
    Ok(Response::new(TopResponse {
        titles,
        processes: rows
            .into_iter()
            .map(|values| StringList { values })
            .collect(),
    }))
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
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

fn sample(c: &Containers, id: &str) -> Result<StatsSample, Status> {
    let s = c.runtime.stats(id).map_err(runtime_status)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(StatsSample {
        read: Some(prost_types::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        cpu: Some(CpuStats {
            total_usage: s.cpu_usage_ns,
            system_cpu_usage: system_cpu_ns(),
            online_cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            ..Default::default()
        }),
        memory: Some(MemoryStats {
            usage: s.memory_usage,
            limit: s.memory_limit.unwrap_or(0),
            ..Default::default()
        }),
        pids: Some(PidsStats {
            current: s.pids_current,
            limit: s.pids_limit.unwrap_or(0),
        }),
        ..Default::default()
    })
}

/// One sample (`stream` false), or one a second until the container exits or the client
/// goes away. The gateway pairs consecutive samples into Docker's cpu/precpu.
pub async fn stats(
    c: &Arc<Containers>,
    r: StatsRequest,
) -> Result<Response<Stream<StatsSample>>, Status> {
    let record = c.find(&r.container)?;
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let this = c.clone();
    tokio::spawn(async move {
        loop {
            let (t, id) = (this.clone(), record.id.clone());
            let s = blocking(move || sample(&t, &id)).await;
            let failed = s.is_err();
            if tx.send(s).await.is_err() || failed || !r.stream {
                return;
            }
            let running = this
                .runtime
                .state(&record.id)
                .is_ok_and(|s| s.status != berth_runtime::Status::Exited);
            if !running {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

pub async fn rename(
    c: &Arc<Containers>,
    r: RenameContainerRequest,
) -> Result<Response<RenameContainerResponse>, Status> {
    let new = r.new_name.trim_start_matches('/').to_owned();
    if !crate::naming::valid_name(&new) {
        return Err(Status::invalid_argument(format!(
            "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    let _names = c.names.lock().await;
    let mut record = c.find(&r.container)?;
    if c.records
        .find(&new)
        .ok()
        .flatten()
        .is_some_and(|o| o.name == new)
    {
        return Err(Status::already_exists(format!(
            "Conflict. The container name \"/{new}\" is already in use"
        )));
    }
    let spec = c
        .records
        .spec(&record.id)
        .ok()
        .flatten()
        .unwrap_or_default();
    record.name = new;
    c.records
        .put(&record, &spec)
        .map_err(|e| Status::internal(e.to_string()))?;
    drop(_names);
    c.networks.renamed(&**c, &record.id).await;
    c.emit("rename", &record.id, &[]).await;
    Ok(Response::new(RenameContainerResponse {}))
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
