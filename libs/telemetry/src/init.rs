//! Installs the process-wide `tracing` subscriber: human logs on stderr and, when an OTLP
//! endpoint is configured, spans exported over OTLP/gRPC.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::TelemetryError;

/// What a process needs to know to set up its telemetry.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of the exported spans, unless `OTEL_SERVICE_NAME` says otherwise.
    pub service_name: String,
    /// OTLP/gRPC collector address, e.g. `http://127.0.0.1:4317`. `None`: no export, but
    /// trace context is still generated and propagated, so a downstream service that does
    /// export still sees the request as one trace.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Reads the standard OpenTelemetry variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), so berth fits any collector set-up unchanged.
    pub fn from_env(service_name: &str) -> Self {
        let endpoint = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        TelemetryConfig {
            service_name: service_name.to_owned(),
            otlp_endpoint: endpoint,
        }
    }
}

/// Keeps the trace pipeline alive; dropping it flushes spans still buffered.
#[derive(Debug)]
#[must_use = "dropping the guard shuts the trace pipeline down"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Exports every finished span now. Async because the exporter needs the runtime to
    /// send: blocking a runtime thread on it could starve the very task doing the export.
    pub async fn flush(&self) {
        let provider = self.provider.clone();
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(error = %e, "flushing spans failed");
        }
    }

    /// Flushes and stops the exporter, waiting without blocking the runtime.
    pub async fn shutdown(self) {
        let provider = self.provider.clone();
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        // Drop then finds the provider shut down already and returns at once.
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let provider = self.provider.clone();
        let stop = move || {
            if let Err(e) = provider.shutdown()
                && !matches!(e, opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown)
            {
                // Nothing left to tell but stderr: the subscriber may be gone already.
                eprintln!("berth: shutting the trace exporter down failed: {e}");
            }
        };
        // The exporter sends on the runtime; a multi-threaded one keeps sending while this
        // thread waits. A single-threaded one cannot, so there the last spans are given up
        // rather than stalling exit: use `shutdown().await` before the end instead.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(stop),
            Ok(_) => {}
            Err(_) => stop(),
        }
    }
}

/// Installs the global subscriber. Must run inside a Tokio runtime when an OTLP endpoint is
/// set, because the gRPC exporter needs one.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(config.service_name.clone());
    }
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|source| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                source,
            })?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer("berth");

    // Each layer filters on its own: RUST_LOG quietens the logs without cutting traces.
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            // Dependencies' own warnings about kernel features berth does not use
            // (cgroup controllers, netlink attributes) would drown berth's logs.
            EnvFilter::new("info,libcgroups=error,libcontainer=warn,netlink_packet_route=error")
        }));
    let traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(LevelFilter::INFO);
    Registry::default()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}
