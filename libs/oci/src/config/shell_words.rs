//! The two bits of Dockerfile word handling that `--change` instructions need, after
//! moby's builder: splitting an instruction's arguments into words (`parseWords`,
//! quotes kept) and processing one word (`ProcessWord`: quotes removed, `\` escapes,
//! `$VAR`/`${VAR}`/`${VAR:-x}`/`${VAR:+x}` expanded from the image's environment).
//!
//! The escape character is always `\` (a `# escape=` directive cannot appear in a
//! change). This module must never run anything: there is no command substitution.

/// Splits on unquoted whitespace, keeping quotes and escapes in the words (they are
/// removed later by [`process_word`]).
pub(super) fn split_words(rest: &str) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            } else if ch == '\\' && q != '\'' {
                if i + 1 == chars.len() {
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
            }
            word.push(chars[i]);
            i += 1;
            continue;
        }
        if ch.is_whitespace() {
            if in_word && (blank_ok || !word.is_empty()) {
                words.push(std::mem::take(&mut word));
            }
            in_word = false;
            blank_ok = false;
            i += 1;
            continue;
        }
        in_word = true;
        if ch == '\'' || ch == '"' {
            quote = Some(ch);
            blank_ok = true;
        }
        if ch == '\\' {
            if i + 1 == chars.len() {
                i += 1;
                continue;
            }
            word.push(ch);
            i += 1;
        }
        word.push(chars[i]);
        i += 1;
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Removes quotes and escapes and expands variables from `env` (`KEY=value` entries,
/// later ones win).
pub(super) fn process_word(word: &str, env: &[String]) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        env,
    };
    lexer.process(None)
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    env: &'a [String],
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Processes until `stop` (not consumed) or the end.
    fn process(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                break;
            }
            match ch {
                '\'' => {
                    self.pos += 1;
                    out.push_str(&self.single_quoted()?);
                }
                '"' => {
                    self.pos += 1;
                    out.push_str(&self.double_quoted()?);
                }
                '$' => out.push_str(&self.dollar()?),
                '\\' => {
                    self.pos += 1;
                    if let Some(escaped) = self.next() {
                        out.push(escaped);
                    }
                }
                _ => {
                    self.pos += 1;
                    out.push(ch);
                }
            }
        }
        Ok(out)
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_owned(),
                    );
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_owned(),
                    );
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None => {}
                        Some(c @ ('"' | '$' | '\\')) => {
                            self.pos += 1;
                            out.push(c);
                        }
                        Some(_) => out.push('\\'),
                    }
                }
                Some(c) => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    /// At a `$`: a variable, or a literal `$` when no name follows.
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.pos += 1;
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: missing variable name in ${}".to_owned());
        }
        match self.next() {
            Some('}') => Ok(self.lookup(&name).unwrap_or_default()),
            Some(':') => {
                let modifier = self.next();
                let word = self.braced_word()?;
                let value = self.lookup(&name).filter(|v| !v.is_empty());
                match modifier {
                    Some('-') => Ok(value.unwrap_or(word)),
                    Some('+') => Ok(if value.is_some() { word } else { String::new() }),
                    Some('?') => value.ok_or_else(|| format!("{name}: {word}")),
                    other => Err(format!(
                        "unsupported modifier ({}) in substitution of ${{{name}}}",
                        other.map(String::from).unwrap_or_default()
                    )),
                }
            }
            Some(m @ ('-' | '+' | '?')) => {
                let word = self.braced_word()?;
                let value = self.lookup(&name);
                match m {
                    '-' => Ok(value.unwrap_or(word)),
                    '+' => Ok(if value.is_some() { word } else { String::new() }),
                    _ => value.ok_or_else(|| format!("{name}: {word}")),
                }
            }
            Some(other) => Err(format!(
                "unsupported modifier ({other}) in substitution of ${{{name}}}"
            )),
            None => Err(format!("missing '}}' in substitution of ${{{name}")),
        }
    }

    fn braced_word(&mut self) -> Result<String, String> {
        let word = self.process(Some('}'))?;
        if self.next() != Some('}') {
            return Err("missing '}' in substitution".to_owned());
        }
        Ok(word)
    }

    fn name(&mut self) -> String {
        if let Some(c) = self.peek().filter(char::is_ascii_digit) {
            self.pos += 1;
            return c.to_string();
        }
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            self.pos += 1;
            name.push(c);
        }
        name
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.env.iter().rev().find_map(|entry| {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            (key == name).then(|| value.to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_keeping_quotes() {
        assert_eq!(
            split_words(r#"a=1 b="two words"  c='x y'"#),
            ["a=1", r#"b="two words""#, "c='x y'"]
        );
        assert_eq!(split_words(r"a=x\ y b"), [r"a=x\ y", "b"]);
        assert_eq!(split_words(r#"e="""#), [r#"e="""#]);
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn processes_quotes_escapes_and_variables() {
        let env = vec!["HOME=/root".to_owned(), "EMPTY=".to_owned()];
        let p = |w: &str| process_word(w, &env).unwrap();
        assert_eq!(p(r#""two words""#), "two words");
        assert_eq!(p("'$HOME'"), "$HOME");
        assert_eq!(p("$HOME/bin"), "/root/bin");
        assert_eq!(p("${HOME}x"), "/rootx");
        assert_eq!(p("${NOPE:-dflt}"), "dflt");
        assert_eq!(p("${EMPTY:-dflt}"), "dflt");
        assert_eq!(p("${EMPTY-dflt}"), "");
        assert_eq!(p("${HOME:+set}"), "set");
        assert_eq!(p(r"\$HOME"), "$HOME");
        assert_eq!(p(r#""a\"b\n""#), r#"a"b\n"#);
        assert_eq!(p("cost$"), "cost$");
        assert!(process_word("'open", &env).is_err());
        assert!(process_word("${HOME#x}", &env).is_err());
    }
}
