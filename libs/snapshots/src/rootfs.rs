//! A container's root filesystem: an overlay of its image's snapshots (read-only, shared)
//! under an upper directory of its own, where everything the container writes lands.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// Where one container's overlay lives: `upper/`, `work/`, and the mount point `rootfs/`.
#[derive(Debug, Clone)]
pub struct ContainerFs {
    pub dir: PathBuf,
}

impl ContainerFs {
    pub fn new(dir: PathBuf) -> Self {
        ContainerFs { dir }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Mounts the overlay; `lowers` bottom layer first, as [`crate::Snapshots`] returns
    /// them. Mounting an already mounted root is a no-op, so a restarted runner can call
    /// this for every container it finds.
    pub fn mount(&self, lowers: &[PathBuf]) -> std::io::Result<()> {
        let (upper, work, target) = (self.upper(), self.dir.join("work"), self.rootfs());
        for d in [&upper, &work, &target] {
            std::fs::create_dir_all(d)?;
        }
        if is_mountpoint(&target)? {
            return Ok(());
        }
        // overlayfs lists the topmost lower directory first.
        let lower: Vec<String> = lowers.iter().rev().map(|p| escape(p)).collect();
        let options = if lower.is_empty() {
            // An image from scratch with no layers: an empty, still writable root.
            let empty = self.dir.join("empty");
            std::fs::create_dir_all(&empty)?;
            format!(
                "lowerdir={},upperdir={},workdir={}",
                escape(&empty),
                escape(&upper),
                escape(&work)
            )
        } else {
            format!(
                "lowerdir={},upperdir={},workdir={}",
                lower.join(":"),
                escape(&upper),
                escape(&work)
            )
        };
        mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .map_err(|e| {
            std::io::Error::other(format!("mounting the overlay on {}: {e}", target.display()))
        })
    }

    /// Unmounts (lazily, so a process still holding a file cannot block removal).
    pub fn unmount(&self) -> std::io::Result<()> {
        let target = self.rootfs();
        if target.exists() && is_mountpoint(&target)? {
            umount2(&target, MntFlags::MNT_DETACH).map_err(|e| {
                std::io::Error::other(format!("unmounting {}: {e}", target.display()))
            })?;
        }
        Ok(())
    }

    /// Bytes the container wrote (its upper directory), as Docker's `SizeRw`.
    pub fn written_bytes(&self) -> u64 {
        crate::tree_bytes(&self.upper())
    }

    /// Unmounts and deletes everything the container wrote.
    pub fn remove(&self) -> std::io::Result<()> {
        self.unmount()?;
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// overlayfs splits options on ',' and lowerdir on ':'; both must be escaped in paths.
fn escape(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(':', "\\:")
}

fn is_mountpoint(path: &Path) -> std::io::Result<bool> {
    let canonical = std::fs::canonicalize(path)?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mounts.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|m| unescape_octal(m) == canonical.to_string_lossy())
    }))
}

/// mountinfo writes spaces and such as `\040`.
fn unescape_octal(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}
