//! Docker's times in filters (`until`, and `since`/`until` of the CLI's own parsing): a
//! Go duration before now (`10m`, `1h30m`, `1.5h`, `300ms`), Unix seconds with an
//! optional fraction (`1700000000.5`), or an RFC 3339 date (`2024-01-02T15:04:05Z`,
//! also without seconds' fraction or zone, and a plain `2024-01-02`).
//!
//! Where berth differs: a date without a zone is read as UTC; dockerd reads it in the
//! daemon's local zone, which for a daemon in a container or a server is UTC too.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A time filter that is none of Docker's forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {0:?}: use a duration before now like 24h or 1h30m, Unix seconds, or an RFC 3339 date"
)]
pub struct TimestampError(pub String);

/// `text` as Unix nanoseconds, durations counted back from `now_nanos`.
pub fn timestamp_nanos(text: &str, now_nanos: i64) -> Result<i64, TimestampError> {
    let bad = || TimestampError(text.to_owned());
    if let Some(d) = go_duration_nanos(text) {
        return Ok(now_nanos.saturating_sub(d));
    }
    if let Some(n) = unix_seconds_nanos(text) {
        return Ok(n);
    }
    // The same grammar with the zone (and the time of day) Docker lets one leave out.
    let forms = [
        text.to_owned(),
        format!("{text}Z"),
        format!("{text}T00:00:00Z"),
    ];
    let parsed = forms
        .iter()
        .find_map(|form| OffsetDateTime::parse(form, &Rfc3339).ok())
        .ok_or_else(bad)?;
    i64::try_from(parsed.unix_timestamp_nanos()).map_err(|_| bad())
}

/// `seconds[.fraction]`, the form Docker's clients send after parsing a time themselves.
fn unix_seconds_nanos(text: &str) -> Option<i64> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let frac: i64 = format!("{frac:0<9}").parse().ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// A Go duration (`time.ParseDuration`) in nanoseconds: an optional sign, then one or
/// more decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`); `0`
/// alone is zero. `None` when `text` is not one.
pub fn go_duration_nanos(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(scale)?;
        if !frac.is_empty() {
            let digits = frac.len().min(18) as u32;
            let frac: i128 = frac[..digits as usize].parse().ok()?;
            part = part.checked_add(frac.checked_mul(scale)? / 10i128.pow(digits))?;
        }
        total = total.checked_add(part)?;
        rest = next;
    }
    let total = i64::try_from(total).ok()?;
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000_000;

    #[test]
    fn go_durations_as_go_reads_them() {
        assert_eq!(go_duration_nanos("10s"), Some(10_000_000_000));
        assert_eq!(go_duration_nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(go_duration_nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(go_duration_nanos("300ms"), Some(300_000_000));
        assert_eq!(go_duration_nanos("2µs"), Some(2_000));
        assert_eq!(go_duration_nanos(".5s"), Some(500_000_000));
        assert_eq!(go_duration_nanos("-1m"), Some(-60_000_000_000));
        assert_eq!(go_duration_nanos("0"), Some(0));
        for bad in ["", "10", "1d", "h", "1.h2", "1hh", "+", "5 m"] {
            assert_eq!(go_duration_nanos(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_form_docker_takes() {
        assert_eq!(
            timestamp_nanos("24h", NOW).unwrap(),
            NOW - 86_400_000_000_000
        );
        assert_eq!(timestamp_nanos("1700000000", NOW).unwrap(), NOW);
        assert_eq!(
            timestamp_nanos("1700000000.25", NOW).unwrap(),
            NOW + 250_000_000
        );
        assert_eq!(timestamp_nanos("2023-11-14T22:13:20Z", NOW).unwrap(), NOW);
        assert_eq!(
            timestamp_nanos("2023-11-14T23:13:20+01:00", NOW).unwrap(),
            NOW
        );
        assert_eq!(timestamp_nanos("2023-11-14T22:13:20", NOW).unwrap(), NOW);
        assert_eq!(
            timestamp_nanos("2023-11-14", NOW).unwrap(),
            NOW - (22 * 3600 + 13 * 60 + 20) * 1_000_000_000
        );
        for bad in [
            "soon",
            "10",
            "1.2.3",
            "2023-13-01",
            "-5",
            "1700000000.1234567891",
        ] {
            let e = timestamp_nanos(bad, NOW);
            if bad == "10" {
                // Ten seconds after the epoch, as in Docker.
                assert_eq!(e.unwrap(), 10_000_000_000);
                continue;
            }
            assert!(e.is_err(), "{bad:?}");
        }
    }
}
