//! What every Podwise service shares: typed settings, telemetry, the error type that maps
//! to both gRPC and HTTP statuses, the gRPC server bootstrap with its health surfaces, and
//! the client side of service-to-service calls.
//!
//! Services depend on this crate and on `podwise-proto`, never on each other.

pub mod bootstrap;
pub mod error;
pub mod grpc_client;
pub mod metrics;
pub mod readiness;
pub mod server;
pub mod settings;
pub mod stores;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "traditional")]
pub mod traditional;

pub use error::ServiceError;
pub use settings::Settings;
pub use tokio_util::sync::CancellationToken;
