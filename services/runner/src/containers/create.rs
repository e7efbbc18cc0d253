//! `docker create`: from a spec and an image to a container that is ready to start.

use std::sync::Arc;

use super::ContainerError;
use berth_runtime::{ContainerConfig, Resources};

use super::record::Record;
use super::spec::{ContainerSpec, HostConfig};
use super::{Containers, blocking};
use crate::naming::valid_name;

/// Image env first, then the request's, a later `KEY=` replacing an earlier one.
fn merge_env(image: Vec<String>, request: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in image.into_iter().chain(request.iter().cloned()) {
        let key = e.split('=').next().unwrap_or("").to_owned();
        out.retain(|x| x.split('=').next() != Some(key.as_str()));
        out.push(e);
    }
    out
}

impl Containers {
    /// Creates the container; returns its ID and Docker's warnings.
    pub async fn create(
        self: &Arc<Self>,
        spec: ContainerSpec,
    ) -> Result<(String, Vec<String>), ContainerError> {
        let id = crate::random_id();
        let name = match spec.name.trim_start_matches('/') {
            "" => generated_name(&id),
            n if valid_name(n) => n.to_owned(),
            n => {
                return Err(ContainerError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        };

        // Overlaps the kernel's cgroup lock warm-up with the create work below.
        tokio::task::spawn_blocking(berth_runtime::cgroups::warm_migration_lock);
        let image = self.images.resolve(&spec.image).await?;
        // By the ID the name resolved to, not the name again: a tag moved meanwhile must
        // not mix two images' config and layers.
        let config_json = self.images.config(&image.id).await?;
        let config = berth_oci::config::parse_config(&config_json)
            .map_err(|e| ContainerError::internal(format!("the image config: {e}")))?;
        let diff_ids = berth_oci::config::diff_ids(&config).map_err(|e| {
            ContainerError::invalid(format!("the image config has a bad diff ID: {e}"))
        })?;
        let c = config.config().clone().unwrap_or_default();

        // Docker: a new entrypoint drops the image's command; otherwise each part comes
        // from the request when given, else from the image.
        let entrypoint = match &spec.entrypoint {
            Some(e) => e.clone(),
            None => c.entrypoint().clone().unwrap_or_default(),
        };
        let cmd = match (&spec.cmd, &spec.entrypoint) {
            (Some(cmd), _) => cmd.clone(),
            (None, Some(_)) => Vec::new(),
            (None, None) => c.cmd().clone().unwrap_or_default(),
        };
        let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(ContainerError::invalid("no command specified"));
        }
        let host = spec.host_config.clone().unwrap_or_default();
        let resources = host.resources.clone().unwrap_or_default();
        let security = host_security(&host)?;
        let plan = self.networks.plan(&host.network_mode, &spec.endpoints)?;
        let bridged = plan.bridged;
        let mut exposed: Vec<String> = spec.exposed_ports.clone();
        exposed.extend(c.exposed_ports().clone().unwrap_or_default());
        let publish = port_specs(&host, &exposed)?;
        let image_volumes: Vec<String> = c.volumes().clone().unwrap_or_default();
        let planned_mounts = super::mounts::plan(&host, &spec.volumes, &image_volumes)?;
        if !publish.is_empty() && !bridged {
            return Err(ContainerError::invalid(
                "published ports need the bridge network; drop --network or --publish",
            ));
        }
        let working_dir = if spec.working_dir.is_empty() {
            c.working_dir().clone().unwrap_or_default()
        } else {
            spec.working_dir.clone()
        };
        let user = if spec.user.is_empty() {
            c.user().clone().unwrap_or_default()
        } else {
            spec.user.clone()
        };
        let hostname = match (spec.hostname.as_str(), &plan.runtime) {
            // Docker: a container on the host's network has the host's name.
            ("", berth_runtime::NetworkMode::Host) => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| id[..12].to_owned()),
            ("", _) => id[..12].to_owned(),
            (h, _) => h.to_owned(),
        };
        let log_path = self.root.join(&id).join("container-json.log");
        let mut runtime_config = ContainerConfig {
            args: args.clone(),
            env: merge_env(c.env().clone().unwrap_or_default(), &spec.env),
            working_dir,
            user,
            group_add: host.group_add.clone(),
            hostname,
            domainname: spec.domainname.clone(),
            tty: spec.tty,
            open_stdin: spec.open_stdin,
            readonly_rootfs: host.readonly_rootfs,
            binds: host.binds.clone(),
            tmpfs: host.tmpfs.clone().into_iter().collect(),
            network: plan.runtime.clone(),
            resources: Resources {
                memory: resources.memory.unwrap_or(0),
                memory_swap: resources.memory_swap.unwrap_or(0),
                cpu_shares: resources.cpu_shares.unwrap_or(0),
                nano_cpus: resources.nano_cpus.unwrap_or(0),
                pids_limit: resources.pids_limit.unwrap_or(0),
            },
            cap_add: host.cap_add.clone(),
            cap_drop: host.cap_drop.clone(),
            privileged: host.privileged,
            no_new_privileges: security.opts.no_new_privileges,
            seccomp_unconfined: security.opts.seccomp_unconfined,
            seccomp_profile: security.opts.seccomp_profile,
            pid_host: security.pid_host,
            ipc_host: security.ipc_host,
            sysctls: host.sysctls.clone().into_iter().collect(),
            devices: security.devices,
            ulimits: security.ulimits,
            // Written into the state directory just before the runtime creates it.
            engine_files: Vec::new(),
            shm_size: host.shm_size as i64,
            log: self.log_config(host.log_config.as_ref(), &log_path)?,
        };

        // Bad numbers are the user's 400 here, before a volume, snapshot or cgroup exists.
        berth_runtime::spec::resources::validate(&runtime_config.resources, host_cpus())
            .map_err(ContainerError::from)?;
        let _names = self.names.lock().await;
        if self
            .records
            .find(&name)
            .ok()
            .flatten()
            .is_some_and(|r| r.name == name)
        {
            return Err(ContainerError::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use. You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let mounts = {
            let this = self.clone();
            let id = id.clone();
            blocking(move || this.resolve_mounts(&id, planned_mounts)).await?
        };
        runtime_config.binds = mounts.binds;
        runtime_config.tmpfs.extend(mounts.tmpfs);
        let (copy_up, new_volumes) = (mounts.copy_up, mounts.created);
        // Until the record names them, only this lease keeps the snapshots from a sweep.
        let _snapshot_lease = self.snapshots.lease().await;
        let lowers = match self
            .snapshots
            .ensure(self.images.as_ref(), &image.layers, &diff_ids)
            .await
        {
            Ok(lowers) => lowers,
            Err(e) => {
                self.forget_volumes(&new_volumes);
                let _ = self.records.abandon(&id);
                return Err(ContainerError::internal(e.to_string()));
            }
        };
        let record = Record {
            id: id.clone(),
            name,
            created: crate::now_nanos(),
            image: spec.image.clone(),
            image_id: image.id.clone(),
            args,
            lowers: lowers.clone(),
            auto_remove: host.auto_remove,
            log_path,
            network_mode: plan.mode,
            publish,
            networks: plan.memberships,
            ports: Vec::new(),
            restart_count: 0,
            manually_stopped: false,
            mounts: mounts.records,
        };
        let this = self.clone();
        let record_for_net = record.clone();
        let created_volumes = new_volumes.clone();
        let handle = blocking(move || {
            let fs = this.fs(&record.id);
            // Intent first: a crash from here on leaves something the next start sweeps.
            this.records
                .intend(&record.id)
                .map_err(|e| ContainerError::internal(e.to_string()))?;
            this.runtime
                .mount_root(&fs, &lowers)
                .map_err(|e| ContainerError::internal(e.to_string()))?;
            let filled = copy_up.iter().try_for_each(|(dest, volume)| {
                crate::volumes::copy_up(&fs.rootfs(), dest, volume)
                    .map(drop)
                    .map_err(|e| {
                        ContainerError::internal(format!(
                            "filling the volume at {dest} from the image: {e}"
                        ))
                    })
            });
            let created = filled.and_then(|()| {
                let mut runtime_config = runtime_config;
                runtime_config.engine_files = crate::networks::prepare_etc_files(
                    &fs.dir,
                    &runtime_config.hostname,
                    &runtime_config.network,
                )?;
                this.runtime
                    .create(&record.id, &runtime_config, &fs.rootfs())
                    .map_err(ContainerError::from)
            });
            match created {
                Ok(handle) => {
                    this.records
                        .put(&record, &spec)
                        .map_err(|e| ContainerError::internal(e.to_string()))?;
                    Ok(handle)
                }
                Err(e) => {
                    let _ = this.runtime.remove_root(&fs);
                    let _ = this.records.abandon(&record.id);
                    this.forget_volumes(&created_volumes);
                    Err(e)
                }
            }
        })
        .await?;
        if bridged && let Err(e) = self.networks.plug(&**self, &id, handle.pid).await {
            // remove() takes the lock itself for a --rm container's volumes.
            drop(_names);
            let _ = self.remove(&record_for_net, true).await;
            self.forget_volumes(&new_volumes);
            return Err(e.into());
        }
        Ok((id, handle.warnings))
    }
}

/// What `HostConfig` asks of the container's isolation, checked: anything berth cannot
/// honour is an error naming it, never dropped.
struct HostSecurity {
    opts: berth_runtime::SecurityOpts,
    pid_host: bool,
    ipc_host: bool,
    devices: Vec<berth_runtime::Device>,
    ulimits: Vec<berth_runtime::Ulimit>,
}

fn host_security(host: &HostConfig) -> Result<HostSecurity, ContainerError> {
    let invalid = |e: berth_runtime::Error| ContainerError::invalid(e.to_string());
    Ok(HostSecurity {
        opts: berth_runtime::SecurityOpts::parse(&host.security_opt).map_err(invalid)?,
        pid_host: berth_runtime::config::host_namespace("pid", &host.pid_mode).map_err(invalid)?,
        ipc_host: berth_runtime::config::host_namespace("ipc", &host.ipc_mode).map_err(invalid)?,
        devices: host
            .devices
            .iter()
            .map(|d| berth_runtime::Device {
                host_path: d.path_on_host.clone().into(),
                container_path: d.path_in_container.clone(),
                permissions: d.cgroup_permissions.clone(),
            })
            .collect(),
        ulimits: host
            .ulimits
            .iter()
            .map(|u| berth_runtime::Ulimit {
                name: u.name.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
    })
}

/// Docker's `PortBindings` (and `-P` over the exposed ports) as proxy specs.
fn port_specs(
    host: &HostConfig,
    exposed: &[String],
) -> Result<Vec<berth_network::PortSpec>, ContainerError> {
    use berth_network::{PortSpec, Protocol};
    let parse_port = |key: &str| -> Result<(u16, Protocol), ContainerError> {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let protocol = match proto {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => {
                return Err(ContainerError::invalid(format!(
                    "unsupported protocol {other:?} in port {key:?}: use tcp or udp"
                )));
            }
        };
        let port = port
            .parse()
            .map_err(|_| ContainerError::invalid(format!("invalid port {key:?}")))?;
        Ok((port, protocol))
    };
    let mut out = Vec::new();
    for (key, bindings) in &host.port_bindings {
        let (container_port, protocol) = parse_port(key)?;
        for b in bindings {
            let host_ip = match b.host_ip.as_str() {
                "" => None,
                ip => Some(
                    ip.parse()
                        .map_err(|_| ContainerError::invalid(format!("invalid host IP {ip:?}")))?,
                ),
            };
            let host_port = match b.host_port.as_str() {
                "" | "0" => None,
                p => Some(p.parse().map_err(|_| {
                    ContainerError::invalid(format!(
                        "invalid host port {p:?}: port ranges are not supported yet"
                    ))
                })?),
            };
            out.push(PortSpec {
                host_ip,
                host_port,
                container_port,
                protocol,
            });
        }
    }
    if host.publish_all_ports {
        for key in exposed {
            let (port, protocol) = parse_port(key)?;
            if !out
                .iter()
                .any(|s| s.container_port == port && s.protocol == protocol)
            {
                out.push(PortSpec::random(port, protocol));
            }
        }
    }
    Ok(out)
}

/// Docker-style `adjective_noun` names, derived from the ID so they need no randomness
/// of their own.
fn generated_name(id: &str) -> String {
    const LEFT: &[&str] = &[
        "brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "sharp", "witty",
    ];
    const RIGHT: &[&str] = &[
        "hopper", "lovelace", "turing", "ritchie", "thompson", "liskov", "hamilton", "knuth",
        "torvalds", "wozniak",
    ];
    let n = usize::from_str_radix(&id[..8], 16).unwrap_or(0);
    format!(
        "{}_{}_{}",
        LEFT[n % LEFT.len()],
        RIGHT[(n / LEFT.len()) % RIGHT.len()],
        &id[..4]
    )
}

/// The CPUs `--cpus` may ask for, as the runtime counts them.
fn host_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_env_follow_docker() {
        assert!(valid_name("kuard"));
        assert!(valid_name("a.b_c-1"));
        assert!(!valid_name("k"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert_eq!(
            merge_env(
                vec!["PATH=/bin".into(), "A=1".into()],
                &["A=2".into(), "B=3".into()]
            ),
            ["PATH=/bin", "A=2", "B=3"]
        );
    }
}
