//! What berth-spawn tells this crate before libcontainer creates a process: load a program
//! compiled earlier ([`Compiled`]), or keep the one libseccomp is about to compile
//! ([`Capture`]). Programs are libseccomp's export format: `struct sock_filter`s in host
//! byte order, 8 bytes each.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::abi::const_scmp_filter_ctx;
use crate::real;

/// The most instructions the kernel takes in one program (BPF_MAXINSNS).
pub const MAX_INSTRUCTIONS: usize = 4096;
const INSTRUCTION: usize = 8;

pub(crate) enum Plan {
    Forward,
    Compiled(Vec<libc::sock_filter>),
    Capture(Region),
}

static PLAN: Mutex<Plan> = Mutex::new(Plan::Forward);

/// The plan; a process that forks while holding it (berth-spawn is single-threaded while
/// libcontainer runs) could not happen, so poisoning is the only other case.
pub(crate) fn plan() -> MutexGuard<'static, Plan> {
    PLAN.lock().unwrap_or_else(|p| p.into_inner())
}

/// libseccomp's version, which (with the kernel) decides what program a profile compiles
/// to: part of a cache key.
pub fn library_version() -> (u32, u32, u32) {
    // SAFETY: libseccomp returns a pointer to its static version record.
    unsafe {
        let v = real::seccomp_version();
        if v.is_null() {
            return (0, 0, 0);
        }
        ((*v).major, (*v).minor, (*v).micro)
    }
}

/// A program that is no seccomp program: an empty, ragged or oversized export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProgram {
    pub bytes: usize,
}

impl fmt::Display for InvalidProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a compiled seccomp program of {} bytes: not 1 to {MAX_INSTRUCTIONS} instructions of {INSTRUCTION} bytes",
            self.bytes
        )
    }
}

impl std::error::Error for InvalidProgram {}

/// While held, every filter libcontainer builds is a stand-in and loads this program.
#[derive(Debug)]
pub struct Compiled(());

impl Compiled {
    pub fn hold(program: &[u8]) -> Result<Compiled, InvalidProgram> {
        let count = program.len() / INSTRUCTION;
        if !program.len().is_multiple_of(INSTRUCTION) || count == 0 || count > MAX_INSTRUCTIONS {
            return Err(InvalidProgram {
                bytes: program.len(),
            });
        }
        let instructions = program
            .chunks_exact(INSTRUCTION)
            .map(|i| libc::sock_filter {
                code: u16::from_ne_bytes([i[0], i[1]]),
                jt: i[2],
                jf: i[3],
                k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
            })
            .collect();
        *plan() = Plan::Compiled(instructions);
        Ok(Compiled(()))
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        *plan() = Plan::Forward;
    }
}

/// Memory shared with the processes libcontainer forks (a `MAP_SHARED` anonymous
/// mapping survives fork as the same pages): the init writes the program there, the
/// parent reads it. Layout: the program's length as a u64, then the program.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    base: *mut u8,
    len: usize,
}

// SAFETY: the region is plain shared memory; it is written only by the single thread of a
// forked init and read by berth-spawn after that init has reported back.
unsafe impl Send for Region {}

const REGION_LEN: usize = 8 + MAX_INSTRUCTIONS * INSTRUCTION;

impl Region {
    /// In the init, just before libseccomp loads `ctx`: export its program into the region.
    /// A failure only means nothing is cached.
    pub(crate) fn copy_program_of(&self, ctx: const_scmp_filter_ctx) {
        // SAFETY: memfd_create, the export into it, lseek, pread and close work on a
        // descriptor of our own; the region is REGION_LEN bytes long.
        unsafe {
            let fd = libc::memfd_create(c"berth-seccomp".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return;
            }
            if real::seccomp_export_bpf(ctx, fd) == 0 {
                let size = libc::lseek(fd, 0, libc::SEEK_END);
                if size > 0 && size as usize <= self.len - 8 {
                    let read = libc::pread(fd, self.base.add(8).cast(), size as usize, 0);
                    if read == size as isize {
                        std::ptr::write_volatile(self.base.cast::<u64>(), size as u64);
                    }
                }
            }
            libc::close(fd);
        }
    }
}

/// While held, libseccomp compiles as usual and the program it loads is kept here.
#[derive(Debug)]
pub struct Capture {
    base: *mut u8,
}

impl Capture {
    pub fn start() -> std::io::Result<Capture> {
        // SAFETY: a fresh anonymous shared mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                REGION_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = base.cast::<u8>();
        *plan() = Plan::Capture(Region {
            base,
            len: REGION_LEN,
        });
        Ok(Capture { base })
    }

    /// The program a child loaded since [`Capture::start`], if one did.
    pub fn program(&self) -> Option<Vec<u8>> {
        // SAFETY: the region is REGION_LEN bytes; its length field is only ever set to a
        // size that fits behind it.
        unsafe {
            let size = std::ptr::read_volatile(self.base.cast::<u64>()) as usize;
            if size == 0 || size > REGION_LEN - 8 {
                return None;
            }
            Some(std::slice::from_raw_parts(self.base.add(8), size).to_vec())
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        *plan() = Plan::Forward;
        // SAFETY: the mapping made in start, unmapped once.
        unsafe {
            libc::munmap(self.base.cast(), REGION_LEN);
        }
    }
}
