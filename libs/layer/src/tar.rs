//! berth's tar reader, for the other crates that read tar (image archives in `berth-oci`):
//! the same strict, bounded reader layers go through (see the `archive` module for why
//! not the `tar` crate). It turns bytes into [`Member`]s and their content, nothing more.

pub use crate::archive::reader::TarReader;
pub use crate::archive::{Member, MemberKind};
pub use crate::sys::Time;
