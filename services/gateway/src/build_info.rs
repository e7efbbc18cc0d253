//! What this build is, as `docker version` shows it; recorded by build.rs.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("BERTH_GIT_COMMIT");
pub const RUSTC_VERSION: &str = env!("BERTH_RUSTC_VERSION");
pub const BUILD_TIME: &str = env!("BERTH_BUILD_TIME");
