//! Applying parsed `--change` instructions to a container config (JSON with Docker's
//! keys), as moby's builder dispatchers do: variables expand against the config's
//! environment at that point, ENTRYPOINT clears a Cmd not set by the same changes.
//!
//! This module must never drop fields it does not know: it edits the JSON in place.

use serde_json::{Map, Value};

use super::{Change, CommandLine, Instruction};
use crate::config::shell_words::process_word;
use crate::error::{OciError, Result};

/// Applies changes, in order, to a container config object (the `config` member of
/// an image config, with Docker's keys). As in Docker, an ENTRYPOINT clears `Cmd`
/// unless a CMD came earlier in the same set of changes.
pub fn apply_changes(config: &mut Map<String, Value>, changes: &[Change]) -> Result<()> {
    let mut cmd_set = false;
    for change in changes {
        let bad = |reason: String| OciError::InvalidChange {
            change: change.text.clone(),
            reason,
        };
        let env = string_list(config.get("Env"));
        let word = |w: &str| process_word(w, &env).map_err(&bad);
        match &change.instruction {
            Instruction::Cmd(line) => {
                let cmd = resolve_command(config, line);
                config.insert("Cmd".into(), cmd.into());
                cmd_set = true;
            }
            Instruction::Entrypoint(line) => {
                let entrypoint = resolve_command(config, line);
                config.insert("Entrypoint".into(), entrypoint.into());
                if !cmd_set {
                    config.insert("Cmd".into(), Value::Null);
                }
            }
            Instruction::Env(pairs) => {
                let expanded = expand_pairs(pairs, &word)?;
                let mut env = env.clone();
                for (name, value) in expanded {
                    let entry = format!("{name}={value}");
                    match env
                        .iter_mut()
                        .find(|e| e.split('=').next() == Some(name.as_str()))
                    {
                        Some(existing) => *existing = entry,
                        None => env.push(entry),
                    }
                }
                config.insert("Env".into(), env.into());
            }
            Instruction::Label(pairs) => {
                let expanded = expand_pairs(pairs, &word)?;
                let labels = object_entry(config, "Labels");
                for (name, value) in expanded {
                    labels.insert(name, value.into());
                }
            }
            Instruction::Expose(specs) => {
                let mut ports = Vec::new();
                for spec in specs {
                    ports.extend(expose_ports(&word(spec)?).map_err(bad)?);
                }
                let exposed = object_entry(config, "ExposedPorts");
                for port in ports {
                    exposed.insert(port, Value::Object(Map::new()));
                }
            }
            Instruction::Volume(paths) => {
                let mut volumes = Vec::new();
                for path in paths {
                    let path = word(path)?.trim().to_owned();
                    if path.is_empty() {
                        return Err(bad("VOLUME specified can not be an empty string".into()));
                    }
                    volumes.push(path);
                }
                let map = object_entry(config, "Volumes");
                for path in volumes {
                    map.insert(path, Value::Object(Map::new()));
                }
            }
            Instruction::User(user) => {
                config.insert("User".into(), word(user)?.into());
            }
            Instruction::Workdir(path) => {
                let current = config
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let dir = normalize_workdir(current, &word(path)?).map_err(bad)?;
                config.insert("WorkingDir".into(), dir.into());
            }
            Instruction::StopSignal(signal) => {
                let signal = word(signal)?;
                validate_signal(&signal).map_err(bad)?;
                config.insert("StopSignal".into(), signal.into());
            }
            Instruction::OnBuild(expression) => {
                let mut triggers = string_list(config.get("OnBuild"));
                triggers.push(expression.clone());
                config.insert("OnBuild".into(), triggers.into());
            }
        }
    }
    Ok(())
}

/// Applies changes to a whole image config document, creating its `config` object
/// when the image has none (as after `docker import`).
pub fn apply_changes_to_image_config(image_config: &mut Value, changes: &[Change]) -> Result<()> {
    let Some(doc) = image_config.as_object_mut() else {
        return Err(OciError::InvalidConfig {
            what: "given to --change".into(),
            reason: "an image config is a JSON object".into(),
        });
    };
    let config = object_entry(doc, "config");
    apply_changes(config, changes)
}

fn expand_pairs(
    pairs: &[(String, String)],
    word: &impl Fn(&str) -> Result<String>,
) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|(name, value)| Ok((word(name)?, word(value)?)))
        .collect()
}

fn resolve_command(config: &Map<String, Value>, line: &CommandLine) -> Vec<String> {
    match line {
        CommandLine::Exec(args) => args.clone(),
        CommandLine::Shell(text) => {
            let mut shell = string_list(config.get("Shell"));
            if shell.is_empty() {
                shell = vec!["/bin/sh".into(), "-c".into()];
            }
            shell.push(text.clone());
            shell
        }
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The object under `key`, created (or replacing a `null`) when missing.
fn object_entry<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = config.entry(key).or_insert(Value::Null);
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

/// `port[/proto]` or `start-end[/proto]` -> `["80/tcp", ...]` (nat.ParsePortSpecs).
fn expose_ports(spec: &str) -> Result<Vec<String>, String> {
    if spec.contains(':') {
        return Err(format!(
            "EXPOSE {spec}: EXPOSE takes container ports only; publish host ports with docker run -p"
        ));
    }
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = if proto.is_empty() {
        "tcp".to_owned()
    } else {
        proto.to_ascii_lowercase()
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto} (use tcp, udp or sctp)"));
    }
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {spec} (a port is 0-65535)"))
    };
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if end < start {
        return Err(format!("invalid port range: {spec} (end before start)"));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

fn normalize_workdir(current: &str, requested: &str) -> Result<String, String> {
    if requested.is_empty() {
        return Err("WORKDIR cannot be empty".to_owned());
    }
    if requested.starts_with('/') {
        return Ok(requested.to_owned());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in current.split('/').chain(requested.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Linux signal names Docker's `signal.ParseSignal` knows (without `SIG`).
const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
    "UNUSED",
];

fn validate_signal(signal: &str) -> Result<(), String> {
    let invalid = || {
        Err(format!(
            "Invalid signal: {signal} (use a name like SIGTERM or a number)"
        ))
    };
    if let Ok(n) = signal.parse::<i64>() {
        return if n == 0 { invalid() } else { Ok(()) };
    }
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = |prefix: &str| {
        name.strip_prefix(prefix)
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=15).contains(&n))
    };
    if SIGNALS.contains(&name) || realtime("RTMIN+") || realtime("RTMAX-") {
        Ok(())
    } else {
        invalid()
    }
}
