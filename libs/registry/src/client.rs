//! One registry, as the distribution spec has it: the `/v2/` endpoints for manifests,
//! blobs, uploads and tags, with the token dance of the distribution token spec (a 401's
//! `Bearer` challenge names where to get a token for a scope) or Basic auth.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use berth_oci::Digest;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::RegistryError;
use crate::challenge::{self, Challenge};
use crate::error::from_answer;
use crate::transport::{Body, Scheme, TransportConfig, full, send};

/// The largest manifest or index berth reads: 4 MiB, as containerd and distribution
/// bound them, so a hostile registry cannot make it hold an endless document.
pub const MANIFEST_LIMIT: usize = 4 << 20;
/// Redirects followed for one request (blob stores redirect once or twice).
const MAX_REDIRECTS: usize = 10;

/// What a manifest request accepts, most specific first.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// Who berth is to a registry. Held in memory only, and never logged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// A refresh token from an earlier login, used in place of the password.
    pub identity_token: String,
    /// A bearer token to send as it is.
    pub registry_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A manifest or index as the registry served it.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub media_type: String,
    pub digest: Digest,
    pub bytes: Bytes,
}

/// A client of one registry.
#[derive(Debug)]
pub struct Registry {
    /// `name[:port]` as berth dials it.
    host: String,
    transport: TransportConfig,
    credentials: Option<Credentials>,
    scheme: tokio::sync::OnceCell<Scheme>,
    /// Scope -> bearer token.
    tokens: Mutex<HashMap<String, String>>,
}

/// The host to dial for a reference's domain: Docker Hub's name differs from its API's.
pub fn api_host(domain: &str) -> &str {
    if domain == "docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

impl Registry {
    pub fn new(domain: &str, transport: TransportConfig, credentials: Option<Credentials>) -> Self {
        Registry {
            host: api_host(domain).to_owned(),
            transport,
            credentials: credentials.filter(|c| *c != Credentials::default()),
            scheme: tokio::sync::OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// HTTPS with the system's and certs.d's CAs; for an insecure registry HTTPS without
    /// checks first, then plain HTTP, as dockerd tries them.
    async fn scheme(&self) -> Result<Scheme, RegistryError> {
        self.scheme
            .get_or_try_init(|| async {
                if !self.transport.is_insecure(&self.host).await {
                    return Ok(Scheme::Https { verify: true });
                }
                let unchecked = Scheme::Https { verify: false };
                match send(
                    &self.transport,
                    unchecked,
                    &self.host,
                    bare_request(&self.host, "/v2/"),
                )
                .await
                {
                    Ok(_) => Ok(unchecked),
                    Err(_) => Ok(Scheme::Http),
                }
            })
            .await
            .copied()
    }

    /// The registry's base URL as berth reaches it (`https://host/v2/`), for messages.
    pub async fn base_url(&self) -> String {
        let scheme = match self.scheme().await {
            Ok(Scheme::Http) => "http",
            _ => "https",
        };
        format!("{scheme}://{}/v2/", self.host)
    }

    /// `GET /v2/`: whether the registry answers, with the credentials given.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        self.call(Method::GET, "/v2/", "", HeaderMap::new(), Bytes::new())
            .await
            .map(drop)
    }

    /// Fetches a manifest or index by tag or digest; a digest reference is checked
    /// against the bytes.
    pub async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Fetched, RegistryError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(MANIFEST_TYPES));
        let path = format!("/v2/{repository}/manifests/{reference}");
        let response = self.get(repository, &path, headers).await?;
        let media_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let bytes = read_limited(response.into_body(), MANIFEST_LIMIT, "a manifest").await?;
        let digest = Digest::of(&bytes);
        if let Ok(asked) = reference.parse::<Digest>()
            && asked != digest
        {
            return Err(RegistryError::Invalid(format!(
                "manifest verification failed for digest {asked}: the registry sent {digest}"
            )));
        }
        Ok(Fetched {
            media_type,
            digest,
            bytes,
        })
    }

    /// Streams a blob from `offset`; the caller checks its digest as the bytes pass.
    /// Returns the number of bytes to come, when the registry says.
    pub async fn blob(
        &self,
        repository: &str,
        digest: &Digest,
        offset: u64,
    ) -> Result<
        (
            Option<u64>,
            impl Stream<Item = Result<Bytes, RegistryError>> + Send + use<>,
        ),
        RegistryError,
    > {
        let mut headers = HeaderMap::new();
        if offset > 0 {
            let range = HeaderValue::from_str(&format!("bytes={offset}-"))
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            headers.insert(header::RANGE, range);
        }
        let path = format!("/v2/{repository}/blobs/{digest}");
        let response = self.get(repository, &path, headers).await?;
        if offset > 0 && response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(RegistryError::Invalid(format!(
                "{}: blob {digest} cannot be resumed (no range support)",
                self.host
            )));
        }
        let length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let host = self.host.clone();
        let body = response.into_body().into_data_stream().map(move |chunk| {
            chunk.map_err(|e| RegistryError::Connect {
                registry: host.clone(),
                message: format!("reading a blob: {e}"),
            })
        });
        Ok((length, body))
    }

    /// A whole small blob (a config), checked against its digest.
    pub async fn blob_bytes(
        &self,
        repository: &str,
        digest: &Digest,
        limit: usize,
    ) -> Result<Bytes, RegistryError> {
        let (_, mut stream) = self.blob(repository, digest, 0).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() > limit {
                return Err(RegistryError::Invalid(format!(
                    "blob {digest} is over {limit} bytes"
                )));
            }
        }
        let actual = Digest::of(&out);
        if actual != *digest {
            return Err(RegistryError::Invalid(format!(
                "blob {digest} arrived as {actual}: refused"
            )));
        }
        Ok(out.into())
    }

    /// The blob's size when the registry has it in `repository`.
    pub async fn blob_size(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let response = self
            .request(
                Method::HEAD,
                &path,
                &push_scope(repository),
                HeaderMap::new(),
                Bytes::new(),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = self.check(response, &format!("HEAD {path}")).await?;
        Ok(response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()))
    }

    /// Uploads a blob held whole in memory.
    pub async fn push_blob(
        &self,
        repository: &str,
        digest: &Digest,
        data: Bytes,
    ) -> Result<(), RegistryError> {
        let size = data.len() as u64;
        let once = futures::stream::once(std::future::ready(Ok(data)));
        self.push_blob_stream(repository, digest, size, once).await
    }

    /// Uploads a blob of `size` bytes from `data` as it comes: one upload opened, then one
    /// PUT whose body is the stream, so a layer never sits whole in memory. The stream
    /// cannot be sent twice: the upload is opened first, which settles the credentials.
    pub async fn push_blob_stream<S>(
        &self,
        repository: &str,
        digest: &Digest,
        size: u64,
        data: S,
    ) -> Result<(), RegistryError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let scope = push_scope(repository);
        let path = format!("/v2/{repository}/blobs/uploads/");
        let response = self
            .call(Method::POST, &path, &scope, HeaderMap::new(), Bytes::new())
            .await?;
        let location = location(&response, &self.host)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        let scheme = self.scheme().await?;
        let (scheme, host, target) = split_target(scheme, &self.host, &put)?;
        let frames = data.map(|chunk| chunk.map(hyper::body::Frame::data));
        let body: Body = BodyExt::boxed_unsync(http_body_util::StreamBody::new(frames));
        let mut request = http::Request::builder()
            .method(Method::PUT)
            .uri(target.as_str())
            .header(header::HOST, host.as_str())
            .header(
                header::USER_AGENT,
                concat!("berth/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, size);
        if host == self.host
            && let Some(a) = self.cached_authorization(&scope)
        {
            request = request.header(header::AUTHORIZATION, a);
        }
        let request = request
            .body(body)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let response = send(&self.transport, scheme, &host, request).await?;
        self.check(response, &format!("PUT {path}")).await.map(drop)
    }

    /// Puts a manifest under `reference` (a tag or its digest); returns its digest.
    pub async fn push_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|e| RegistryError::Invalid(e.to_string()))?,
        );
        let path = format!("/v2/{repository}/manifests/{reference}");
        self.call(Method::PUT, &path, &push_scope(repository), headers, bytes)
            .await?;
        Ok(digest)
    }

    /// The repository's tags.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let path = format!("/v2/{repository}/tags/list");
        let response = self.get(repository, &path, HeaderMap::new()).await?;
        let bytes = read_limited(response.into_body(), MANIFEST_LIMIT, "a tag list").await?;
        let tags: Tags = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Invalid(format!("the tag list: {e}")))?;
        Ok(tags.tags.unwrap_or_default())
    }

    /// A GET in `repository` with pull rights.
    async fn get(
        &self,
        repository: &str,
        path: &str,
        headers: HeaderMap,
    ) -> Result<http::Response<Incoming>, RegistryError> {
        let scope = pull_scope(repository);
        self.call(Method::GET, path, &scope, headers, Bytes::new())
            .await
    }

    /// [`Registry::request`], with a non-success answer turned into its error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        scope: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<http::Response<Incoming>, RegistryError> {
        let what = format!("{method} {path}");
        let response = self.request(method, path, scope, headers, body).await?;
        self.check(response, &what).await
    }

    /// Turns a non-success answer into its error.
    async fn check(
        &self,
        response: http::Response<Incoming>,
        what: &str,
    ) -> Result<http::Response<Incoming>, RegistryError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = read_limited(response.into_body(), 64 << 10, "an error")
            .await
            .unwrap_or_default();
        Err(from_answer(&self.host, status, what, &body))
    }

    /// Sends a request with the credentials the registry asks for, following redirects.
    async fn request(
        &self,
        method: Method,
        path_or_url: &str,
        scope: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<http::Response<Incoming>, RegistryError> {
        let scheme = self.scheme().await?;
        let mut authorization = self.cached_authorization(scope);
        for _attempt in 0..2 {
            let response = self
                .send_following(
                    scheme,
                    &method,
                    path_or_url,
                    &headers,
                    &body,
                    authorization.as_ref(),
                )
                .await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let challenges: Vec<Challenge> = response
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(challenge::parse)
                .collect();
            if challenges
                .iter()
                .any(|c| c.param("error") == Some("insufficient_scope"))
                && authorization.is_some()
            {
                return Err(RegistryError::Denied);
            }
            let next = self.authorize(scheme, &challenges, scope).await?;
            if authorization.as_ref() == Some(&next) {
                let body = read_limited(response.into_body(), 64 << 10, "an error")
                    .await
                    .unwrap_or_default();
                return Err(from_answer(&self.host, 401, path_or_url, &body));
            }
            authorization = Some(next);
        }
        Err(RegistryError::Unauthorized(
            "authentication required".into(),
        ))
    }

    fn cached_authorization(&self, scope: &str) -> Option<HeaderValue> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(scope)
            .or_else(|| tokens.get(""))
            .and_then(|t| HeaderValue::from_str(t).ok())
    }

    /// The Authorization a 401's challenges ask for.
    async fn authorize(
        &self,
        scheme: Scheme,
        challenges: &[Challenge],
        scope: &str,
    ) -> Result<HeaderValue, RegistryError> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = self.fetch_token(scheme, bearer, scope).await?;
            let value = format!("Bearer {token}");
            self.tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(scope.to_owned(), value.clone());
            return HeaderValue::from_str(&value)
                .map_err(|e| RegistryError::Invalid(e.to_string()));
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let c = self
                .credentials
                .as_ref()
                .ok_or(RegistryError::NoCredentials)?;
            let value = basic(c);
            self.tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(String::new(), value.clone());
            return HeaderValue::from_str(&value)
                .map_err(|e| RegistryError::Invalid(e.to_string()));
        }
        Err(RegistryError::Unauthorized(
            "the registry asks for an authentication scheme berth does not speak".into(),
        ))
    }

    /// A token from the realm of a Bearer challenge (the distribution token spec):
    /// GET with Basic auth when berth has credentials, and `account=` naming the user.
    async fn fetch_token(
        &self,
        scheme: Scheme,
        challenge: &Challenge,
        scope: &str,
    ) -> Result<String, RegistryError> {
        if let Some(c) = &self.credentials
            && !c.registry_token.is_empty()
        {
            return Ok(c.registry_token.clone());
        }
        let realm = challenge.param("realm").ok_or_else(|| {
            RegistryError::Unauthorized("the challenge names no token realm".into())
        })?;
        // Built apart: the serializer is not Send and must not live across an await.
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(service) = challenge.param("service") {
                query.append_pair("service", service);
            }
            if !scope.is_empty() {
                query.append_pair("scope", scope);
            }
            if let Some(c) = &self.credentials {
                query.append_pair("account", &c.username);
            }
            query.finish()
        };
        let separator = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{separator}{query}");
        let auth = self
            .credentials
            .as_ref()
            .and_then(|c| HeaderValue::from_str(&basic(c)).ok());
        let response = self
            .send_following(
                scheme,
                &Method::GET,
                &url,
                &HeaderMap::new(),
                &Bytes::new(),
                auth.as_ref(),
            )
            .await?;
        if !response.status().is_success() {
            return Err(RegistryError::Unauthorized(if self.credentials.is_some() {
                "incorrect username or password".into()
            } else {
                "authentication required".into()
            }));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let bytes = read_limited(response.into_body(), 1 << 20, "a token").await?;
        let t: Token = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Unauthorized(format!("the token server's answer: {e}")))?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if token.is_empty() {
            return Err(RegistryError::Unauthorized(
                "the token server sent no token".into(),
            ));
        }
        Ok(token)
    }

    /// Sends one request, following redirects; Authorization goes only to this registry.
    async fn send_following(
        &self,
        scheme: Scheme,
        method: &Method,
        path_or_url: &str,
        headers: &HeaderMap,
        body: &Bytes,
        authorization: Option<&HeaderValue>,
    ) -> Result<http::Response<Incoming>, RegistryError> {
        let (mut target_scheme, mut host, mut path) =
            split_target(scheme, &self.host, path_or_url)?;
        for _ in 0..=MAX_REDIRECTS {
            let mut request = http::Request::builder()
                .method(method.clone())
                .uri(path.as_str())
                .header(header::HOST, host.as_str())
                .header(
                    header::USER_AGENT,
                    concat!("berth/", env!("CARGO_PKG_VERSION")),
                );
            for (k, v) in headers {
                request = request.header(k, v);
            }
            if let Some(a) = authorization
                && host == self.host
            {
                request = request.header(header::AUTHORIZATION, a);
            }
            if !body.is_empty() || *method == Method::PUT || *method == Method::POST {
                request = request.header(header::CONTENT_LENGTH, body.len());
            }
            let request = request
                .body(full(body.clone()))
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            let response = send(&self.transport, target_scheme, &host, request).await?;
            if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED
            {
                return Ok(response);
            }
            let next = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    RegistryError::Invalid(format!("{host}: a redirect without a location"))
                })?
                .to_owned();
            (target_scheme, host, path) = split_target(target_scheme, &host, &next)?;
        }
        Err(RegistryError::Invalid(format!(
            "{}: more than {MAX_REDIRECTS} redirects for {path_or_url}: refused",
            self.host
        )))
    }
}

fn basic(c: &Credentials) -> String {
    let secret = if c.identity_token.is_empty() {
        &c.password
    } else {
        &c.identity_token
    };
    let pair = format!("{}:{secret}", c.username);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn bare_request(host: &str, path: &str) -> http::Request<Body> {
    let mut request = http::Request::new(full(Bytes::new()));
    *request.uri_mut() = http::Uri::try_from(path).unwrap_or_default();
    if let Ok(host) = HeaderValue::from_str(host) {
        request.headers_mut().insert(header::HOST, host);
    }
    request
}

/// Where a path or an absolute URL leads: scheme, host and path-with-query.
fn split_target(
    scheme: Scheme,
    host: &str,
    target: &str,
) -> Result<(Scheme, String, String), RegistryError> {
    if target.starts_with('/') {
        return Ok((scheme, host.to_owned(), target.to_owned()));
    }
    let uri: http::Uri = target
        .parse()
        .map_err(|e| RegistryError::Invalid(format!("{host}: bad location {target:?}: {e}")))?;
    let next_scheme = match uri.scheme_str() {
        Some("https") => match scheme {
            Scheme::Https { verify } => Scheme::Https { verify },
            Scheme::Http => Scheme::Https { verify: true },
        },
        Some("http") => Scheme::Http,
        _ => {
            return Err(RegistryError::Invalid(format!(
                "{host}: bad location {target:?}"
            )));
        }
    };
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .ok_or_else(|| RegistryError::Invalid(format!("{host}: bad location {target:?}")))?;
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    Ok((next_scheme, authority, path))
}

fn location(response: &http::Response<Incoming>, host: &str) -> Result<String, RegistryError> {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| RegistryError::Invalid(format!("{host}: an upload without a location")))
}

async fn read_limited(body: Incoming, limit: usize, what: &str) -> Result<Bytes, RegistryError> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| RegistryError::Invalid(format!("reading {what}: {e} (limit {limit} bytes)")))
}
