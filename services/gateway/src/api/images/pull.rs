//! `POST /images/create?fromImage=NAME&tag=TAG` (docker pull) and
//! `POST /images/{name}/push?tag=TAG` (docker push): the registry proxy does the work,
//! its progress comes back as Docker's JSON message stream.

use axum::response::Response;
use base64::Engine as _;
use berth_proto::v1::{Progress, PullRequest, PushRequest, RegistryAuth};
use futures::StreamExt;
use http::HeaderMap;

use super::archive::{json_stream, progress_message};
use crate::api::query::QueryPairs;
use crate::error::ApiError;
use crate::state::AppState;

/// The credentials the docker CLI sends in `X-Registry-Auth`: base64url (padded or
/// not) of a JSON AuthConfig. Absent or `{}` means anonymous.
pub fn registry_auth(headers: &HeaderMap) -> Result<Option<RegistryAuth>, ApiError> {
    let Some(value) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("X-Registry-Auth is not text"))?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::general_purpose::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let json = engine
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|_| ApiError::bad_request("X-Registry-Auth is not base64"))?;
    let a: AuthConfig = serde_json::from_slice(&json)
        .map_err(|e| ApiError::bad_request(format!("X-Registry-Auth: {e}")))?;
    let empty = a.username.is_empty() && a.identitytoken.is_empty() && a.registrytoken.is_empty();
    Ok((!empty).then_some(a.into_proto()))
}

/// Docker's AuthConfig: the `X-Registry-Auth` header's JSON and `POST /auth`'s body.
/// Unknown fields (`email`, `auth` of old clients) are ignored, as dockerd does.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    username: String,
    password: String,
    serveraddress: String,
    identitytoken: String,
    registrytoken: String,
}

impl AuthConfig {
    pub fn into_proto(self) -> RegistryAuth {
        RegistryAuth {
            username: self.username,
            password: self.password,
            identity_token: self.identitytoken,
            registry_token: self.registrytoken,
            server_address: self.serveraddress,
        }
    }
}

/// The reference a pull names: `fromImage` with `tag` (a tag, or a digest as the CLI
/// sends one).
fn reference(image: &str, tag: Option<&str>) -> String {
    match tag.filter(|t| !t.is_empty()) {
        Some(t) if t.contains(':') => format!("{image}@{t}"),
        Some(t) => format!("{image}:{t}"),
        None => image.to_owned(),
    }
}

pub async fn pull(
    state: &AppState,
    q: &QueryPairs,
    image: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let auth = registry_auth(headers)?;
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => {
            let p = berth_oci::platform::Platform::parse(p)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Some(berth_proto::v1::Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone().unwrap_or_default(),
                os_version: String::new(),
            })
        }
        None => None,
    };
    let stream = state
        .registry_proxy()
        .pull(PullRequest {
            reference: reference(image, q.get("tag")),
            platform,
            auth,
            all_tags: false,
            lease_id: String::new(),
        })
        .await?
        .into_inner();
    progress_response(stream).await
}

pub async fn push(
    state: &AppState,
    name: &str,
    q: &QueryPairs,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let auth = registry_auth(headers)?;
    let tag = q.get("tag").filter(|t| !t.is_empty()).unwrap_or("latest");
    let stream = state
        .registry_proxy()
        .push(PushRequest {
            reference: format!("{name}:{tag}"),
            auth,
            platform: None,
        })
        .await?
        .into_inner();
    progress_response(stream).await
}

/// The JSON stream of a pull's or push's progress. A failure before any progress (a
/// missing manifest, refused credentials) is an error response, as dockerd answers
/// it; later ones go in the stream.
async fn progress_response(stream: tonic::Streaming<Progress>) -> Result<Response, ApiError> {
    let mut stream = stream.peekable();
    if let Some(Ok(first)) = std::pin::Pin::new(&mut stream).peek().await
        && let Some(e) = &first.error
    {
        let status = http::StatusCode::from_u16(e.code as u16)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        return Err(ApiError::new(status, e.message.clone()));
    }
    let messages = stream.map(|p| match p {
        Ok(p) => progress_message(p),
        Err(s) => super::archive::error_message(s.message()),
    });
    Ok(json_stream(messages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_as_the_cli_sends_them() {
        assert_eq!(reference("busybox", Some("latest")), "busybox:latest");
        assert_eq!(reference("busybox", None), "busybox");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(reference("r/x", Some(&d)), format!("r/x@{d}"));
    }

    #[test]
    fn auth_headers_decode_or_are_refused() {
        let mut h = HeaderMap::new();
        assert!(registry_auth(&h).unwrap().is_none());
        let json = r#"{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}"#;
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        h.insert("x-registry-auth", encoded.parse().unwrap());
        let a = registry_auth(&h).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("u", "p"));
        h.insert("x-registry-auth", "e30=".parse().unwrap()); // {}
        assert!(registry_auth(&h).unwrap().is_none());
        h.insert("x-registry-auth", "!!!".parse().unwrap());
        assert!(registry_auth(&h).is_err());
    }
}
