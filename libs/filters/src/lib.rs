//! The parts of Docker's filter grammar that more than one service reads: one
//! implementation, so `docker ... prune --filter until=...` and `--filter label=...`
//! mean the same thing whichever service answers.

mod labels;
mod timestamp;

pub use labels::{Labels, label_matches, label_matches_by};
pub use timestamp::{TimestampError, go_duration_nanos, timestamp_nanos};
