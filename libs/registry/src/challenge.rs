//! `WWW-Authenticate` challenges (RFC 7235) as registries send them: `Basic realm="..."`
//! or `Bearer realm="...",service="...",scope="...",error="..."`. Written here rather than
//! taken from a crate because registries need only these two schemes and the parameters
//! the distribution token spec names, and the parser must not fail on what it skips.

use std::collections::HashMap;

/// One challenge of a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lower-case: "basic" or "bearer" (others are kept, and refused by the caller).
    pub scheme: String,
    /// Lower-case parameter names.
    pub params: HashMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Every challenge in a header value; several schemes may share one header.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // A token followed by "=" is a parameter of the current challenge; a token
        // followed by a space or the end is a new scheme.
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if let Some(value_start) = after.strip_prefix('=') {
            let (value, remaining) = value(value_start.trim_start());
            if let Some(current) = out.last_mut() {
                current.params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remaining.trim_start().trim_start_matches(',').trim_start();
        } else {
            if !token.is_empty() {
                out.push(Challenge {
                    scheme: token.to_ascii_lowercase(),
                    params: HashMap::new(),
                });
            }
            rest = after.trim_start_matches(',').trim_start();
            if token.is_empty() && rest.len() == after.len() {
                break; // nothing consumed: malformed, stop rather than loop
            }
        }
    }
    out
}

/// A quoted string (with `\` escapes) or a token; returns it and what follows.
fn value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        out.push(next);
                    }
                }
                '"' => return (out, &quoted[i + 1..]),
                c => out.push(c),
            }
        }
        (out, "")
    } else {
        let end = input.find(',').unwrap_or(input.len());
        (input[..end].trim().to_owned(), &input[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_every_parameter() {
        let c = parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn basic_and_odd_spacing_and_escapes() {
        let c = parse(r#"Basic realm="Registry \"R\"""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "R""#));
        let c = parse("Bearer   realm = token , service=svc");
        assert_eq!(c[0].param("realm"), Some("token"));
        assert_eq!(c[0].param("service"), Some("svc"));
        let two = parse(r#"Basic realm="a", Bearer realm="b""#);
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].param("realm"), Some("b"));
    }

    #[test]
    fn garbage_gives_no_panic() {
        for h in [
            "",
            "=",
            ",,,",
            "Bearer realm=\"unterminated",
            "=x=y",
            "Bearer ,=,",
        ] {
            let _ = parse(h);
        }
    }
}
