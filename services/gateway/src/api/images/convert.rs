//! From the image store's protobuf answers to Docker's JSON shapes.

use berth_proto::v1::Digest;

pub fn digest(d: &Option<Digest>) -> String {
    d.as_ref().map(|d| d.value.clone()).unwrap_or_default()
}

/// Unix seconds of a protobuf timestamp (0 when absent).
pub fn unix_seconds(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().map(|t| t.seconds).unwrap_or_default()
}

/// RFC 3339 with nanoseconds, as Go's `time.Time` marshals (`2024-01-02T03:04:05.123Z`).
pub fn rfc3339(t: &Option<prost_types::Timestamp>) -> String {
    match t {
        Some(t) => {
            let nanos = t.nanos.max(0) as u32;
            let secs = t.seconds;
            let days = secs.div_euclid(86_400);
            let rem = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let frac = if nanos == 0 {
                String::new()
            } else {
                format!(".{nanos:09}").trim_end_matches('0').to_owned()
            };
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60
            )
        }
        None => "0001-01-01T00:00:00Z".to_owned(),
    }
}

/// Howard Hinnant's days-to-civil algorithm: a date without pulling a calendar crate in.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_go() {
        let t = |seconds, nanos| Some(prost_types::Timestamp { seconds, nanos });
        assert_eq!(rfc3339(&t(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(&t(1_700_000_000, 120_000_000)),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339(&t(951_782_400, 0)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(&None), "0001-01-01T00:00:00Z");
    }
}
