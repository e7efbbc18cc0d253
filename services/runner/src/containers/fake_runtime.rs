//! A runtime that runs nothing and records what it was asked, for the runner's tests:
//! containers are entries in a table, their exits come when a test says so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use berth_runtime::{
    CgroupStats, ContainerConfig, ContainerHandle, ContainerState, Error, ExecConfig, ExitRecord,
    Result, Session, Status,
};
use berth_snapshots::ContainerFs;

use super::runtime::ContainerRuntime;

#[derive(Debug)]
struct Fake {
    config: ContainerConfig,
    status: Status,
    pid: i32,
    exit_code: Option<i32>,
}

#[derive(Debug, Default)]
struct Table {
    containers: HashMap<String, Fake>,
    calls: Vec<String>,
    next_pid: i32,
}

#[derive(Debug)]
pub struct FakeRuntime {
    table: Mutex<Table>,
    /// Wakes waits on the calling thread.
    changed: Condvar,
    /// Wakes waits on the reactor: the number of changes so far.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        FakeRuntime {
            table: Mutex::new(Table {
                next_pid: 1000,
                ..Default::default()
            }),
            changed: Condvar::new(),
            changes: tokio::sync::watch::channel(0).0,
        }
    }
}

impl FakeRuntime {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, call: String) {
        self.table().calls.push(call);
    }

    fn notify(&self) {
        self.changed.notify_all();
        self.changes.send_modify(|n| *n += 1);
    }

    /// A container in the state a runner finds at start.
    pub fn add(&self, id: &str, status: Status, exit_code: Option<i32>) {
        let mut t = self.table();
        t.next_pid += 1;
        let pid = t.next_pid;
        t.containers.insert(
            id.to_owned(),
            Fake {
                config: ContainerConfig::default(),
                status,
                pid,
                exit_code,
            },
        );
    }

    /// The container's process ends with `code`.
    pub fn exit(&self, id: &str, code: i32) {
        if let Some(c) = self.table().containers.get_mut(id) {
            c.status = Status::Exited;
            c.exit_code = Some(code);
        }
        self.notify();
    }

    /// Every call so far, as `verb id`.
    pub fn calls(&self) -> Vec<String> {
        self.table().calls.clone()
    }

    fn exit_record(&self, id: &str) -> Option<ExitRecord> {
        let t = self.table();
        let c = t.containers.get(id)?;
        (c.status == Status::Exited).then(|| ExitRecord {
            exit_code: c.exit_code.unwrap_or(-1),
            oom_killed: false,
            finished_at: String::new(),
            error: None,
        })
    }
}

fn unknown(id: &str) -> Error {
    Error::NotFound(id.to_owned())
}

#[async_trait::async_trait]
impl ContainerRuntime for FakeRuntime {
    fn create(&self, id: &str, config: &ContainerConfig, _: &Path) -> Result<ContainerHandle> {
        self.record(format!("create {id}"));
        let mut t = self.table();
        if t.containers.contains_key(id) {
            return Err(Error::AlreadyExists(id.to_owned()));
        }
        t.next_pid += 1;
        let pid = t.next_pid;
        t.containers.insert(
            id.to_owned(),
            Fake {
                config: config.clone(),
                status: Status::Created,
                pid,
                exit_code: None,
            },
        );
        Ok(ContainerHandle {
            id: id.to_owned(),
            pid,
            state_dir: PathBuf::new(),
            log_path: PathBuf::new(),
            cgroups_path: String::new(),
            warnings: Vec::new(),
        })
    }

    fn start(&self, id: &str) -> Result<()> {
        self.record(format!("start {id}"));
        let mut t = self.table();
        let c = t.containers.get_mut(id).ok_or_else(|| unknown(id))?;
        c.status = Status::Running;
        Ok(())
    }

    fn kill(&self, id: &str, signal: i32) -> Result<()> {
        self.record(format!("kill {id} {signal}"));
        {
            let mut t = self.table();
            let c = t.containers.get_mut(id).ok_or_else(|| unknown(id))?;
            c.status = Status::Exited;
            c.exit_code = Some(128 + signal);
        }
        self.notify();
        Ok(())
    }

    fn state(&self, id: &str) -> Result<ContainerState> {
        let t = self.table();
        let c = t.containers.get(id).ok_or_else(|| unknown(id))?;
        Ok(ContainerState {
            id: id.to_owned(),
            status: c.status,
            pid: (c.status != Status::Exited).then_some(c.pid),
            exit_code: c.exit_code,
            oom_killed: false,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            monitor_alive: c.status != Status::Exited,
            error: None,
        })
    }

    fn config(&self, id: &str) -> Result<ContainerConfig> {
        let t = self.table();
        Ok(t.containers
            .get(id)
            .ok_or_else(|| unknown(id))?
            .config
            .clone())
    }

    fn list(&self) -> Result<Vec<String>> {
        Ok(self.table().containers.keys().cloned().collect())
    }

    fn delete(&self, id: &str, _force: bool) -> Result<()> {
        self.record(format!("delete {id}"));
        self.table()
            .containers
            .remove(id)
            .map(drop)
            .ok_or_else(|| unknown(id))
    }

    fn destroy_unfinished(&self, id: &str) -> Result<()> {
        self.record(format!("destroy {id}"));
        self.table().containers.remove(id);
        Ok(())
    }

    fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<ExitRecord> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut t = self.table();
        loop {
            let c = t.containers.get(id).ok_or_else(|| unknown(id))?;
            if c.status == Status::Exited {
                drop(t);
                return self.exit_record(id).ok_or_else(|| unknown(id));
            }
            t = match deadline {
                None => self.changed.wait(t).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(Error::InvalidState {
                            id: id.to_owned(),
                            state: "running".into(),
                            hint: "the wait timed out",
                        });
                    }
                    self.changed
                        .wait_timeout(t, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    async fn exited(&self, id: &str) -> Result<ExitRecord> {
        let mut changes = self.changes.subscribe();
        loop {
            if !self.table().containers.contains_key(id) {
                return Err(unknown(id));
            }
            if let Some(exit) = self.exit_record(id) {
                return Ok(exit);
            }
            if changes.changed().await.is_err() {
                return Err(unknown(id));
            }
        }
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.record(format!("pause {id}"));
        Ok(())
    }
    fn resume(&self, id: &str) -> Result<()> {
        self.record(format!("resume {id}"));
        Ok(())
    }
    fn stats(&self, id: &str) -> Result<CgroupStats> {
        Err(unknown(id))
    }
    fn processes(&self, id: &str) -> Result<Vec<i32>> {
        Err(unknown(id))
    }
    fn attach(&self, id: &str, _: bool, _: bool, _: bool) -> Result<Session> {
        Err(unknown(id))
    }
    fn exec(&self, id: &str, _: &ExecConfig) -> Result<Session> {
        Err(unknown(id))
    }
    fn resize(&self, _: &str, _: u16, _: u16, _: Option<i32>) -> Result<()> {
        Ok(())
    }
    fn mount_root(&self, fs: &ContainerFs, _: &[PathBuf]) -> std::io::Result<()> {
        self.record(format!("mount {}", id_of(fs)));
        std::fs::create_dir_all(fs.rootfs())
    }
    fn remove_root(&self, fs: &ContainerFs) -> std::io::Result<()> {
        self.record(format!("unmount {}", id_of(fs)));
        match std::fs::remove_dir_all(&fs.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn id_of(fs: &ContainerFs) -> String {
    fs.dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
