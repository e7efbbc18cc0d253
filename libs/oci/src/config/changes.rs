//! `docker commit --change` and `docker import --change`: Dockerfile instructions
//! applied to an image's container config, with Docker's semantics (moby's
//! `BuildFromConfig` and the builder's dispatchers).
//!
//! Only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR and
//! STOPSIGNAL are accepted. Changes apply to the container config as JSON (Docker's
//! PascalCase keys: `Cmd`, `Env`, `ExposedPorts`, ...) so fields oci-spec does not
//! model (`OnBuild`, `Shell`, `Healthcheck`) survive. This module must never run a
//! command or touch a filesystem: there is no RUN, COPY or ADD here.

mod apply;

pub use apply::{apply_changes, apply_changes_to_image_config};

use super::shell_words::split_words;
use crate::error::{OciError, Result};

/// The instructions Docker accepts in `--change`.
pub const ALLOWED_INSTRUCTIONS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
];

/// One parsed instruction, with the text it came from (for error messages). Words are
/// kept as written; quotes are removed and variables expanded when applied, against
/// the environment the config has at that point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub text: String,
    pub instruction: Instruction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Env(Vec<(String, String)>),
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    OnBuild(String),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
    StopSignal(String),
}

/// CMD and ENTRYPOINT take a JSON array (exec form) or a string run by the shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

/// Parses `--change` values. One value may hold several instructions on separate
/// lines (Docker joins them with newlines), with `\` line continuations and `#`
/// comments.
pub fn parse_changes<S: AsRef<str>>(changes: &[S]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    for change in changes {
        for line in logical_lines(change.as_ref()) {
            out.push(parse_instruction(&line)?);
        }
    }
    Ok(out)
}

fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match raw.trim_end().strip_suffix('\\') {
            Some(continued) => current.push_str(continued),
            None => {
                current.push_str(raw);
                lines.push(std::mem::take(&mut current).trim().to_owned());
            }
        }
    }
    if !current.trim().is_empty() {
        lines.push(current.trim().to_owned());
    }
    lines
}

fn parse_instruction(text: &str) -> Result<Change> {
    let (word, rest) = text
        .split_once(char::is_whitespace)
        .map_or((text, ""), |(w, r)| (w, r.trim()));
    let name = word.to_ascii_uppercase();
    let bad = |reason: String| OciError::InvalidChange {
        change: text.to_owned(),
        reason,
    };
    let needs_arg = || {
        if rest.is_empty() {
            Err(bad(format!("{name} requires exactly one argument")))
        } else {
            Ok(rest.to_owned())
        }
    };
    let instruction = match name.as_str() {
        "CMD" => Instruction::Cmd(
            command_line(rest)
                .ok_or_else(|| bad(format!("{name} requires at least one argument")))?,
        ),
        "ENTRYPOINT" => Instruction::Entrypoint(
            command_line(rest)
                .ok_or_else(|| bad(format!("{name} requires at least one argument")))?,
        ),
        "ENV" => Instruction::Env(name_values(rest, &name).map_err(bad)?),
        "LABEL" => Instruction::Label(name_values(rest, &name).map_err(bad)?),
        "EXPOSE" => {
            let ports: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
            if ports.is_empty() {
                return Err(bad("EXPOSE requires at least one argument".to_owned()));
            }
            Instruction::Expose(ports)
        }
        "VOLUME" => {
            let volumes = json_array(rest)
                .unwrap_or_else(|| rest.split_whitespace().map(str::to_owned).collect());
            if volumes.is_empty() {
                return Err(bad("VOLUME requires at least one argument".to_owned()));
            }
            Instruction::Volume(volumes)
        }
        "USER" => Instruction::User(needs_arg()?),
        "WORKDIR" => Instruction::Workdir(needs_arg()?),
        "STOPSIGNAL" => Instruction::StopSignal(needs_arg()?),
        "ONBUILD" => Instruction::OnBuild(on_build(rest).map_err(bad)?),
        _ => {
            return Err(OciError::ChangeNotAllowed {
                instruction: name,
                change: text.to_owned(),
            });
        }
    };
    Ok(Change {
        text: text.to_owned(),
        instruction,
    })
}

fn command_line(rest: &str) -> Option<CommandLine> {
    if let Some(args) = json_array(rest) {
        return Some(CommandLine::Exec(args));
    }
    (!rest.is_empty()).then(|| CommandLine::Shell(rest.to_owned()))
}

/// Docker's `parseJSON`: a JSON array of strings, or nothing (then it is shell form).
fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str(rest).ok()
}

/// Docker's `parseNameVal`: `KEY name value...` (old form, when the first word has no
/// `=`) or `KEY a=1 b="x y"`.
fn name_values(rest: &str, instruction: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(rest);
    let Some(first) = words.first() else {
        return Err(format!("{instruction} requires at least one argument"));
    };
    let pairs = if !first.contains('=') {
        match rest.split_once(char::is_whitespace) {
            Some((name, value)) => vec![(name.to_owned(), value.trim_start().to_owned())],
            None => return Err(format!("{instruction} must have two arguments")),
        }
    } else {
        let mut pairs = Vec::new();
        for word in &words {
            let Some((name, value)) = word.split_once('=') else {
                return Err(format!(
                    "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
                ));
            };
            pairs.push((name.to_owned(), value.to_owned()));
        }
        pairs
    };
    if pairs.iter().any(|(name, _)| name.is_empty()) {
        return Err(format!("{instruction} names can not be blank"));
    }
    Ok(pairs)
}

fn on_build(rest: &str) -> Result<String, String> {
    let trigger = rest
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match trigger.as_str() {
        "" => Err("ONBUILD requires at least one argument".to_owned()),
        "ONBUILD" => Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_owned()),
        "FROM" | "MAINTAINER" => Err(format!("{trigger} isn't allowed as an ONBUILD trigger")),
        _ => Ok(rest.to_owned()),
    }
}
