//! Docker's resource rules turned into OCI `linux.resources`: validation errors worded as
//! Docker words them, `--memory-swap` semantics (-1 unlimited, 0 = twice the memory),
//! `--cpus` as a CFS quota over a 100 ms period, and the create "Warnings" Docker returns
//! when the host cannot enforce a limit (the limit is then dropped, as Docker does).
//! This module never writes a cgroup file; libcontainer applies what it returns.

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
    LinuxResources, LinuxResourcesBuilder,
};

use crate::cgroups::HostSupport;
use crate::config::Resources;
use crate::error::{Error, Result};

/// The CFS period Docker uses for `--cpus`.
pub const CPU_PERIOD: u64 = 100_000;
/// Docker's smallest memory limit.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The Docker warning for a memory limit without swap accounting.
pub const WARN_NO_SWAP: &str = "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";
const WARN_NO_MEMORY: &str = "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.";
const WARN_NO_SHARES: &str =
    "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.";
const WARN_NO_PIDS: &str = "Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.";

/// The kernel's PID_MAX_LIMIT: `pids.max` refuses anything larger.
pub const MAX_PIDS_LIMIT: i64 = 4 * 1024 * 1024;

/// Checks `r` against Docker's rules (moby's `verifyPlatformContainerResources`) and
/// what the kernel accepts, before anything is created: every value that passes can be
/// written to a cgroup, so a bad value is the user's 400, never a cgroup write's 500.
/// `num_cpus` is the host's, for `--cpus`.
pub fn validate(r: &Resources, num_cpus: usize) -> Result<()> {
    let invalid = |m: String| Err(Error::InvalidConfig(m));
    if r.memory < 0 {
        return invalid(format!(
            "invalid memory limit {}: it must not be negative; use 0 for unlimited",
            r.memory
        ));
    }
    if r.memory > 0 && r.memory < MIN_MEMORY {
        return invalid("Minimum memory limit allowed is 6MB".into());
    }
    if r.memory_swap < -1 {
        return invalid(format!(
            "invalid memory swap limit {}: use -1 for unlimited swap, or a limit of at least the memory limit",
            r.memory_swap
        ));
    }
    if r.memory_swap > 0 && r.memory == 0 {
        return invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if r.memory_swap > 0 && r.memory_swap < r.memory {
        return invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if r.nano_cpus < 0 || r.nano_cpus > (num_cpus as i64).saturating_mul(1_000_000_000) {
        return invalid(format!(
            "Range of CPUs is from 0.01 to {num_cpus}.00, as there are only {num_cpus} CPUs available"
        ));
    }
    if r.pids_limit > MAX_PIDS_LIMIT {
        return invalid(format!(
            "invalid pids limit {}: the kernel allows at most {MAX_PIDS_LIMIT}; use 0 or -1 for unlimited",
            r.pids_limit
        ));
    }
    Ok(())
}

/// Validates `r` against Docker's rules and the host, returning the OCI resources and any
/// warnings for the create response.
pub fn linux_resources(r: &Resources, host: &HostSupport) -> Result<(LinuxResources, Vec<String>)> {
    let mut warnings = Vec::new();
    let invalid = |m: &str| Err(Error::InvalidConfig(m.to_string()));
    validate(r, host.num_cpus)?;

    let mut resources = LinuxResourcesBuilder::default().devices(vec![
        // Deny every device; libcontainer then allows the default set (null, zero, full,
        // random, urandom, tty, console, ptmx, pts, tun) as runc does.
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?,
    ]);

    let mut memory = LinuxMemoryBuilder::default();
    let mut has_memory = false;
    if r.memory > 0 {
        if !host.memory {
            warnings.push(WARN_NO_MEMORY.to_string());
        } else {
            has_memory = true;
            memory = memory.limit(r.memory);
            let swap = if r.memory_swap == 0 {
                // Docker's default; the kernel caps a huge limit at "unlimited" itself.
                r.memory.saturating_mul(2)
            } else {
                r.memory_swap
            };
            if swap != -1 && !host.swap {
                warnings.push(WARN_NO_SWAP.to_string());
            } else if host.swap {
                memory = memory.swap(swap);
            }
        }
    }
    if has_memory {
        resources = resources.memory(memory.build()?);
    }

    let mut cpu = LinuxCpuBuilder::default();
    let mut has_cpu = false;
    if r.cpu_shares > 0 {
        if host.cpu_shares {
            cpu = cpu.shares(r.cpu_shares.clamp(2, 262_144) as u64);
            has_cpu = true;
        } else {
            warnings.push(WARN_NO_SHARES.to_string());
        }
    }
    if r.nano_cpus > 0 {
        if !host.cpu_cfs {
            return invalid(
                "NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted",
            );
        }
        let quota = r.nano_cpus * CPU_PERIOD as i64 / 1_000_000_000;
        if quota < 1000 {
            return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
        }
        cpu = cpu.quota(quota).period(CPU_PERIOD);
        has_cpu = true;
    }
    if has_cpu {
        resources = resources.cpu(cpu.build()?);
    }

    if r.pids_limit > 0 {
        if host.pids {
            resources = resources.pids(LinuxPidsBuilder::default().limit(r.pids_limit).build()?);
        } else {
            warnings.push(WARN_NO_PIDS.to_string());
        }
    }
    Ok((resources.build()?, warnings))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::Just;

    use super::*;

    const MB: i64 = 1 << 20;

    #[test]
    fn memory_and_swap_follow_docker() {
        let host = HostSupport::all();
        let r = Resources {
            memory: 200 * MB,
            memory_swap: 1024 * MB,
            ..Default::default()
        };
        let (res, warnings) = linux_resources(&r, &host).unwrap();
        let mem = res.memory().unwrap();
        assert_eq!((mem.limit(), mem.swap()), (Some(200 * MB), Some(1024 * MB)));
        assert!(warnings.is_empty());

        let r = Resources {
            memory: 100 * MB,
            ..Default::default()
        };
        let (res, _) = linux_resources(&r, &host).unwrap();
        assert_eq!(
            res.memory().unwrap().swap(),
            Some(200 * MB),
            "0 means twice the memory"
        );

        let r = Resources {
            memory: 100 * MB,
            memory_swap: -1,
            ..Default::default()
        };
        assert_eq!(
            linux_resources(&r, &host)
                .unwrap()
                .0
                .memory()
                .unwrap()
                .swap(),
            Some(-1)
        );
    }

    #[test]
    fn no_swap_accounting_warns_like_docker() {
        let host = HostSupport {
            swap: false,
            ..HostSupport::all()
        };
        let r = Resources {
            memory: 200 * MB,
            memory_swap: 1024 * MB,
            ..Default::default()
        };
        let (res, warnings) = linux_resources(&r, &host).unwrap();
        assert_eq!(res.memory().unwrap().swap(), None);
        assert_eq!(warnings, vec![WARN_NO_SWAP.to_string()]);
    }

    #[test]
    fn docker_validation_messages() {
        let host = HostSupport::all();
        let err = |r: Resources| linux_resources(&r, &host).unwrap_err().to_string();
        assert!(
            err(Resources {
                memory: MB,
                ..Default::default()
            })
            .contains("Minimum memory limit allowed is 6MB")
        );
        assert!(
            err(Resources {
                memory_swap: 100 * MB,
                ..Default::default()
            })
            .contains("always set the Memory limit")
        );
        assert!(
            err(Resources {
                memory: 100 * MB,
                memory_swap: 50 * MB,
                ..Default::default()
            })
            .contains("Minimum memoryswap")
        );
        assert!(
            err(Resources {
                nano_cpus: 1_000_000_000_000,
                ..Default::default()
            })
            .contains("Range of CPUs")
        );
    }

    proptest::proptest! {
        /// Whatever numbers arrive, validation answers (no overflow, no panic), and what
        /// it accepts becomes limits the kernel takes: swap at least the memory or
        /// unlimited, a pids limit within PID_MAX_LIMIT, a CFS quota of at least 1 ms.
        #[test]
        fn any_numbers_validate_or_refuse_cleanly(
            memory in proptest::prop_oneof![
                proptest::num::i64::ANY,
                0i64..(1 << 40),
                Just(i64::MAX),
                Just((1i64 << 62) + 1),
            ],
            memory_swap in proptest::prop_oneof![
                proptest::num::i64::ANY,
                -2i64..(1 << 40),
                Just(-1i64),
                Just(0i64),
            ],
            cpu_shares in proptest::num::i64::ANY,
            nano_cpus in proptest::prop_oneof![proptest::num::i64::ANY, 0i64..4_000_000_000],
            pids_limit in proptest::prop_oneof![
                proptest::num::i64::ANY,
                -2i64..5_000_000,
                Just(1i64 << 62),
            ],
        ) {
            let r = Resources { memory, memory_swap, cpu_shares, nano_cpus, pids_limit };
            let host = HostSupport::all();
            match linux_resources(&r, &host) {
                Err(e) => {
                    proptest::prop_assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
                    proptest::prop_assert!(validate(&r, host.num_cpus).is_err()
                        || nano_cpus * CPU_PERIOD as i64 / 1_000_000_000 < 1000);
                }
                Ok((res, _)) => {
                    proptest::prop_assert!(validate(&r, host.num_cpus).is_ok());
                    if let Some(mem) = res.memory() {
                        let limit = mem.limit().unwrap();
                        proptest::prop_assert!(limit >= MIN_MEMORY);
                        if let Some(swap) = mem.swap() {
                            proptest::prop_assert!(swap == -1 || swap >= limit);
                        }
                    }
                    if let Some(pids) = res.pids() {
                        proptest::prop_assert!(pids.limit() > 0 && pids.limit() <= MAX_PIDS_LIMIT);
                    }
                    if let Some(q) = res.cpu().as_ref().and_then(|c| c.quota()) {
                        proptest::prop_assert!(q >= 1000);
                    }
                }
            }
        }
    }

    #[test]
    fn the_attack_values_are_refused_as_bad_input() {
        let host = HostSupport::all();
        let huge = Resources {
            memory: (1 << 62) + 7,
            ..Default::default()
        };
        let (res, _) = linux_resources(&huge, &host).unwrap();
        assert_eq!(res.memory().unwrap().swap(), Some(i64::MAX));
        for r in [
            Resources {
                memory: 100 * MB,
                memory_swap: -5,
                ..Default::default()
            },
            Resources {
                pids_limit: 1 << 62,
                ..Default::default()
            },
        ] {
            let e = validate(&r, 2).unwrap_err();
            assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
            assert!(!e.to_string().contains("/sys/fs/cgroup"), "{e}");
        }
    }

    #[test]
    fn cpus_and_shares_and_pids() {
        let host = HostSupport::all();
        let r = Resources {
            cpu_shares: 1024,
            nano_cpus: 1_500_000_000,
            pids_limit: 20,
            ..Default::default()
        };
        let (res, _) = linux_resources(&r, &host).unwrap();
        let cpu = res.cpu().as_ref().unwrap();
        assert_eq!(
            (cpu.shares(), cpu.quota(), cpu.period()),
            (Some(1024), Some(150_000), Some(CPU_PERIOD))
        );
        assert_eq!(res.pids().as_ref().unwrap().limit(), 20);
        let no_pids = HostSupport {
            pids: false,
            ..HostSupport::all()
        };
        let (res, w) = linux_resources(&r, &no_pids).unwrap();
        assert!(res.pids().is_none() && w.len() == 1);
    }
}
