//! Docker's decimal human sizes, as go-units' `FromHumanSize` (v0.5.0, the version moby
//! vendors) reads them: json-file's `max-size` goes through it, so `10m` is 10,000,000
//! bytes there while `--memory 10m` (`RAMInBytes`, [`super::parse_size`]) is 10 MiB.
//! The error texts are Go's, so a message searched for on the web finds Docker's.

/// A size as `FromHumanSize` reads it: a number (fractions and exponents allowed, as Go's
/// `ParseFloat` takes them; Go's hexadecimal floats are not), an optional space, then
/// nothing, `b`, or one of `k m g t p` (powers of 1000) optionally followed by `b` or
/// `ib`, in any case. The value is truncated to bytes. Like Go on x86-64, a value that
/// does not fit in an i64 (or NaN) comes back as `i64::MIN`, which callers that want a
/// positive size refuse.
pub fn from_human_size(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{text}'");
    let sep = text
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (num, suffix) = if text.as_bytes()[sep] == b' ' {
        (&text[..sep], &text[sep + 1..])
    } else {
        (&text[..=sep], &text[sep + 1..])
    };
    let mut size = parse_float(num)?;
    if size < 0.0 {
        return Err(invalid());
    }
    if suffix.is_empty() {
        return Ok(go_int64(size));
    }
    let bad_suffix = |s: &str| format!("invalid suffix: '{s}'");
    if suffix.len() > 3 {
        return Err(bad_suffix(suffix));
    }
    let lower = suffix.to_lowercase();
    let bytes = lower.as_bytes();
    if bytes[0] == b'b' {
        return if bytes.len() > 1 {
            Err(bad_suffix(&lower))
        } else {
            Ok(go_int64(size))
        };
    }
    let multiplier: f64 = match bytes[0] {
        b'k' => 1e3,
        b'm' => 1e6,
        b'g' => 1e9,
        b't' => 1e12,
        b'p' => 1e15,
        _ => return Err(bad_suffix(&lower)),
    };
    size *= multiplier;
    // go-units accepts `ib` after a decimal unit too: `1KiB` is 1000 bytes here.
    match bytes.len() {
        2 if bytes[1] != b'b' => Err(bad_suffix(&lower)),
        3 if &bytes[1..] != b"ib" => Err(bad_suffix(&lower)),
        _ => Ok(go_int64(size)),
    }
}

/// Go's `strconv.ParseFloat(num, 64)` for decimal text, with its error messages.
fn parse_float(num: &str) -> Result<f64, String> {
    let syntax = || format!("strconv.ParseFloat: parsing {num:?}: invalid syntax");
    let value: f64 = num.parse().map_err(|_| syntax())?;
    let unsigned = num.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let named = unsigned.starts_with("inf") || unsigned == "nan";
    // Rust takes a signed NaN; Go does not.
    if unsigned == "nan" && unsigned.len() != num.len() {
        return Err(syntax());
    }
    if value.is_infinite() && !named {
        return Err(format!(
            "strconv.ParseFloat: parsing {num:?}: value out of range"
        ));
    }
    Ok(value)
}

/// Go's `int64(f)` on x86-64: truncation, and the "integer indefinite" value for what
/// does not fit.
fn go_int64(f: f64) -> i64 {
    // 2^63 is exact in f64; every f64 below it and at or above -2^63 fits.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        f as i64
    } else {
        i64::MIN
    }
}

#[cfg(test)]
mod tests {
    use super::from_human_size;

    const KB: i64 = 1000;
    const MB: i64 = 1000 * KB;
    const GB: i64 = 1000 * MB;
    const TB: i64 = 1000 * GB;
    const PB: i64 = 1000 * TB;

    #[test]
    fn decimal_units_as_go_units() {
        // go-units' own TestFromHumanSize cases.
        for (text, want) in [
            ("0", 0),
            ("0b", 0),
            ("0B", 0),
            ("0 B", 0),
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * KB),
            ("32K", 32 * KB),
            ("32kb", 32 * KB),
            ("32Kb", 32 * KB),
            ("32Mb", 32 * MB),
            ("32Gb", 32 * GB),
            ("32Tb", 32 * TB),
            ("32Pb", 32 * PB),
            ("32.5kB", 32_500),
            ("32.5 kB", 32_500),
            ("32.5 B", 32),
            ("0.3 K", 300),
            (".3kB", 300),
            ("0.", 0),
            ("0. ", 0),
            ("0.b", 0),
            ("0.B", 0),
            ("-0", 0),
            ("-0b", 0),
            ("-0B", 0),
            ("-0 b", 0),
            ("-0 B", 0),
            ("32.", 32),
            ("32.b", 32),
            ("32.B", 32),
            ("32. b", 32),
            ("32. B", 32),
            ("0 ", 0),
            // What the json-file docs and users write.
            ("10m", 10_000_000),
            ("10k", 10_000),
            ("10mb", 10_000_000),
            ("10MB", 10_000_000),
            ("10M", 10_000_000),
            ("1g", GB),
            ("1KiB", KB),
            ("1e3", 1000),
        ] {
            assert_eq!(from_human_size(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn what_go_units_refuses_is_refused() {
        for text in [
            " 0", " 0b", " 0B", " 0 B", "0b ", "0B ", "0 B ", "", "hello", ".", ". ", " ", "  ",
            " .", " . ", "-32", "-32b", "-32B", "-32 b", "-32 B", "32b.", "32B.", "32 b.", "32 B.",
            "32 bb", "32 BB", "32 b b", "32 B B", "32  b", "32  B", " 32 ", "32m b", "32bm",
            "32kib ", "32kbb", "32x", "32kB1", "1e400", "+nan",
        ] {
            assert!(from_human_size(text).is_err(), "{text:?} was accepted");
        }
        assert_eq!(from_human_size("ten").unwrap_err(), "invalid size: 'ten'");
        assert_eq!(from_human_size("10mm").unwrap_err(), "invalid suffix: 'mm'");
        assert_eq!(
            from_human_size("10 XiB").unwrap_err(),
            "invalid suffix: 'xib'"
        );
        assert_eq!(
            from_human_size("1..2k").unwrap_err(),
            "strconv.ParseFloat: parsing \"1..2\": invalid syntax"
        );
    }

    #[test]
    fn what_does_not_fit_comes_back_negative_as_in_go() {
        assert_eq!(from_human_size("10000000000000000000"), Ok(i64::MIN));
        assert_eq!(from_human_size("10000p"), Ok(i64::MIN));
        assert_eq!(from_human_size("9223372036854775807b"), Ok(i64::MIN));
        assert_eq!(from_human_size("9000p"), Ok(9000 * PB));
    }
}
