//! Every subject berth uses, and NATS subject syntax.

use crate::BusError;

/// All events: `berth.events.<type>.<action>`; durable, for `docker events`.
pub const EVENTS: &str = "berth.events.>";
/// Runner heartbeats: `berth.runners.heartbeat.<runner-id>`.
pub const RUNNER_HEARTBEATS: &str = "berth.runners.heartbeat.*";
/// Asks every runner to send a heartbeat now, so a starting gateway knows the pool at once
/// instead of after a heartbeat interval.
pub const RUNNER_DISCOVER: &str = "berth.runners.discover";

/// The subject of one runner's heartbeats.
pub fn runner_heartbeat(runner_id: &str) -> String {
    format!("berth.runners.heartbeat.{}", token(runner_id))
}

/// The subject of an event of `kind` (Docker's `Type`) and `action`.
pub fn event(kind: &str, action: &str) -> String {
    // Docker actions such as `exec_start: sh -c true` carry a detail after ':'; the subject
    // keeps only the verb, the body keeps the whole action.
    let verb = action.split(':').next().unwrap_or(action);
    format!("berth.events.{}.{}", token(kind), token(verb))
}

/// Turns free text into one valid subject token.
fn token(text: &str) -> String {
    let t: String = text
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() { "_".to_owned() } else { t }
}

/// Checks subject syntax; `pattern` allows the wildcards `*` and a final `>`.
pub fn validate(subject: &str, pattern: bool) -> Result<(), BusError> {
    let bad = || BusError::InvalidSubject(subject.to_owned());
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() || t.chars().any(|c| c.is_whitespace()) {
            return Err(bad());
        }
        let wildcard = *t == "*" || (*t == ">" && i == tokens.len() - 1);
        if (t.contains('*') || t.contains('>')) && !(pattern && wildcard) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Whether `subject` matches `pattern` under NATS rules.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_nats() {
        assert!(matches("a.*.c", "a.b.c"));
        assert!(!matches("a.*.c", "a.b.d"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(matches(EVENTS, "berth.events.image.tag"));
        assert!(!matches(EVENTS, "berth.runners.heartbeat.x"));
    }

    #[test]
    fn event_subjects_are_single_tokens() {
        assert_eq!(
            event("container", "exec_start: sh -c true"),
            "berth.events.container.exec_start"
        );
        assert_eq!(
            runner_heartbeat("host.a b"),
            "berth.runners.heartbeat.host_a_b"
        );
        assert!(validate(&event("image", "un.tag"), false).is_ok());
    }

    #[test]
    fn validation_rejects_bad_subjects() {
        assert!(validate("a..b", false).is_err());
        assert!(validate("a.*", false).is_err());
        assert!(validate("a.*", true).is_ok());
        assert!(validate("a.>.b", true).is_err());
        assert!(validate("a b", true).is_err());
    }
}
