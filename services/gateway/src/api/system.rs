//! `/_ping`, `/version`, `/info`: what a client asks first.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use berth_proto::v1::InfoRequest;
use bollard_stubs::models::{SystemInfo, SystemInfoCgroupDriverEnum, SystemInfoCgroupVersionEnum};
use http::{HeaderName, HeaderValue, header};
use serde::Serialize;

use super::version::{API_VERSION, MIN_API_VERSION};
use crate::build_info;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
}

/// The headers a client negotiates with: API version, OS type, and the classic builder
/// (`Builder-Version: 1`), since berth builds from a streamed context, not via BuildKit.
async fn ping() -> Response {
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
        ],
        "OK",
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static(API_VERSION),
    );
    h.insert(
        HeaderName::from_static("ostype"),
        HeaderValue::from_static("linux"),
    );
    h.insert(
        HeaderName::from_static("builder-version"),
        HeaderValue::from_static("1"),
    );
    h.insert(
        HeaderName::from_static("docker-experimental"),
        HeaderValue::from_static("false"),
    );
    res
}

/// `GET /version`. Hand-written rather than bollard's `SystemVersion`: the CLI reads the
/// Engine component's `Details` as a string map, which bollard types as `HashMap<(), ()>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Version {
    platform: Platform,
    components: Vec<Component>,
    version: &'static str,
    api_version: &'static str,
    #[serde(rename = "MinAPIVersion")]
    min_api_version: &'static str,
    git_commit: &'static str,
    go_version: &'static str,
    os: &'static str,
    arch: &'static str,
    kernel_version: String,
    build_time: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Platform {
    name: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Component {
    name: &'static str,
    version: &'static str,
    details: BTreeMap<&'static str, String>,
}

async fn version() -> Json<Version> {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let arch = docker_arch(std::env::consts::ARCH);
    let details = BTreeMap::from([
        ("ApiVersion", API_VERSION.to_owned()),
        ("MinAPIVersion", MIN_API_VERSION.to_owned()),
        ("GitCommit", build_info::GIT_COMMIT.to_owned()),
        ("GoVersion", build_info::RUSTC_VERSION.to_owned()),
        ("Os", "linux".to_owned()),
        ("Arch", arch.to_owned()),
        ("KernelVersion", kernel.clone()),
        ("BuildTime", build_info::BUILD_TIME.to_owned()),
        ("Experimental", "false".to_owned()),
    ]);
    Json(Version {
        platform: Platform { name: "berth" },
        components: vec![Component {
            name: "Engine",
            version: build_info::VERSION,
            details,
        }],
        version: build_info::VERSION,
        api_version: API_VERSION,
        min_api_version: MIN_API_VERSION,
        git_commit: build_info::GIT_COMMIT,
        go_version: build_info::RUSTC_VERSION,
        os: "linux",
        arch,
        kernel_version: kernel,
        build_time: build_info::BUILD_TIME,
    })
}

/// Go's architecture names, which clients compare against image platforms.
fn docker_arch(rust_arch: &'static str) -> &'static str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

/// `GET /info`: host facts come from a runner (the hosts containers run on); with no
/// runner connected the answer still comes, with a warning saying so.
async fn info(State(state): State<AppState>) -> Result<Json<SystemInfo>, ApiError> {
    let mut info = SystemInfo {
        name: Some("berth".to_owned()),
        server_version: Some(build_info::VERSION.to_owned()),
        os_type: Some("linux".to_owned()),
        logging_driver: Some("json-file".to_owned()),
        index_server_address: Some("https://index.docker.io/v1/".to_owned()),
        default_runtime: Some("berth".to_owned()),
        containers: Some(0),
        containers_running: Some(0),
        containers_paused: Some(0),
        containers_stopped: Some(0),
        images: Some(0),
        labels: Some(Vec::new()),
        ..Default::default()
    };
    let mut warnings = Vec::new();
    match state.any_runner() {
        Ok(mut runner) => {
            let r = runner.info(InfoRequest {}).await?.into_inner();
            info.id = Some(r.runner_id);
            info.name = Some(r.hostname);
            info.kernel_version = Some(r.kernel_version);
            info.operating_system = Some(r.operating_system);
            info.architecture = Some(r.architecture);
            info.ncpu = Some(r.ncpu.into());
            info.mem_total = Some(r.mem_total_bytes as i64);
            info.docker_root_dir = Some(r.data_root);
            info.driver = Some(r.storage_driver);
            info.containers = Some(r.containers_total.into());
            info.containers_running = Some(r.containers_running.into());
            info.containers_paused = Some(r.containers_paused.into());
            info.containers_stopped = Some(r.containers_stopped.into());
            info.cgroup_driver = Some(match r.cgroup_driver.as_str() {
                "systemd" => SystemInfoCgroupDriverEnum::SYSTEMD,
                "none" => SystemInfoCgroupDriverEnum::NONE,
                _ => SystemInfoCgroupDriverEnum::CGROUPFS,
            });
            info.cgroup_version = Some(match r.cgroup_version.as_str() {
                "2" => SystemInfoCgroupVersionEnum::_2,
                _ => SystemInfoCgroupVersionEnum::_1,
            });
            info.security_options = Some(r.security_options);
            info.labels = Some(
                r.labels
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            );
            warnings.extend(r.warnings);
        }
        Err(e) => warnings.push(format!("WARNING: {}", e.message)),
    }
    info.warnings = Some(warnings);
    Ok(Json(info))
}
