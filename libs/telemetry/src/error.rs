/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (bad endpoint, missing runtime).
    #[error(
        "cannot build the OTLP trace exporter for {endpoint}: {source}; check OTEL_EXPORTER_OTLP_ENDPOINT"
    )]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// A global subscriber was already installed in this process.
    #[error("a tracing subscriber is already installed in this process: {0}")]
    AlreadyInstalled(String),
}
