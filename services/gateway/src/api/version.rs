//! API versions: the `/v1.NN/` prefix on request paths, and which versions berth speaks.
//!
//! The prefix is taken off before routing, so each route is declared once; a version
//! berth does not speak is refused with Docker's own wording, which clients recognise.

use axum::body::Body;
use http::{Request, Uri};

use crate::error::ApiError;

/// The newest API version berth serves. CLI 28 uses min(server, 1.50), so this is what
/// current clients talk.
pub const API_VERSION: &str = "1.47";
/// The oldest version berth accepts, as Docker 27 does.
pub const MIN_API_VERSION: &str = "1.24";

/// A parsed `MAJOR.MINOR` API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.')?;
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }
}

/// What came before routing: either the request with its path made version-free, or an
/// error response for a version berth does not serve.
pub fn strip_prefix(mut req: Request<Body>) -> Result<Request<Body>, ApiError> {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(req);
    };
    let (version, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(asked) = ApiVersion::parse(version) else {
        // Not a version prefix (e.g. `/volumes`): route as it is.
        return Ok(req);
    };
    check(asked, version)?;
    let new_path = match req.uri().query() {
        Some(q) => format!("{tail}?{q}"),
        None => tail.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    let invalid = || ApiError::bad_request(format!("invalid request path {path:?}"));
    parts.path_and_query = Some(new_path.parse().map_err(|_| invalid())?);
    *req.uri_mut() = Uri::from_parts(parts).map_err(|_| invalid())?;
    req.extensions_mut().insert(asked);
    Ok(req)
}

fn check(asked: ApiVersion, text: &str) -> Result<(), ApiError> {
    let max = ApiVersion::parse(API_VERSION).expect("valid constant");
    let min = ApiVersion::parse(MIN_API_VERSION).expect("valid constant");
    if asked > max {
        return Err(ApiError::bad_request(format!(
            "client version {text} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if asked < min {
        return Err(ApiError::bad_request(format!(
            "client version {text} is too old. Minimum supported API version is \
             {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_after(uri: &str) -> Result<String, http::StatusCode> {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        strip_prefix(req)
            .map(|r| r.uri().to_string())
            .map_err(|e| e.status)
    }

    #[test]
    fn strips_supported_prefixes() {
        assert_eq!(path_after("/v1.47/version").unwrap(), "/version");
        assert_eq!(
            path_after("/v1.24/containers/json?all=1").unwrap(),
            "/containers/json?all=1"
        );
        assert_eq!(path_after("/version").unwrap(), "/version");
        assert_eq!(path_after("/volumes").unwrap(), "/volumes");
    }

    #[test]
    fn refuses_versions_out_of_range() {
        assert_eq!(
            path_after("/v1.50/version"),
            Err(http::StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            path_after("/v1.12/version"),
            Err(http::StatusCode::BAD_REQUEST)
        );
    }
}
