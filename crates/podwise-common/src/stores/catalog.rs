//! The catalog: podcasts, episodes, listeners and their feedback, ingestion jobs.
//!
//! PostgreSQL in a cluster, one SQLite file (WAL mode, shared by the local processes)
//! when embedded. Both run the same migrations and the same SQL: the queries keep to
//! what both dialects accept, and [`on_pool!`] expands each query once per pool type.
//!
//! The pool connects lazily and migrations run on first use, so a database that is down
//! at start-up leaves the service up and answering `Unavailable` until it returns.

mod jobs;
pub use jobs::RetryPolicy;
mod listeners;
mod model;
mod shows;

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::SqlitePool;
use tokio::sync::Mutex;

pub use model::*;

use super::StoreError;
use super::sqlite_file::{ACQUIRE_TIMEOUT, open_pool};
use crate::settings::{Profile, Settings};

/// The schema, embedded in the binary so every service migrates to the same version.
static MIGRATIONS: Migrator = sqlx::migrate!("migrations/catalog");

/// The catalog, backed by PostgreSQL or by a SQLite file.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: Pool,
    migrated: Arc<Mutex<bool>>,
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs the same query text against whichever pool the catalog holds. Each arm is
/// compiled separately, so the body may use driver-specific types (rows, transactions).
macro_rules! on_pool {
    ($catalog:expr, $pool:ident => $body:expr) => {
        match &$catalog.pool {
            Pool::Postgres($pool) => $body,
            Pool::Sqlite($pool) => $body,
        }
    };
}
use on_pool;

impl Catalog {
    /// Opens the catalog the settings' profile selects. The PostgreSQL pool connects
    /// lazily; the SQLite file is created if missing.
    ///
    /// # Errors
    /// When the connection settings cannot be parsed.
    pub async fn open(settings: &Settings) -> Result<Self, StoreError> {
        let pool = match settings.profile {
            Profile::Cluster => {
                let url = settings.postgres.connection_url();
                let options = PgConnectOptions::from_str(url.expose_secret())
                    .map_err(|e| StoreError::Invalid(format!("the PostgreSQL settings: {e}")))?;
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(10)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_lazy_with(options),
                )
            }
            Profile::Embedded => Pool::Sqlite(
                open_pool(&settings.paths.data_dir.join("catalog.sqlite"), "catalog").await?,
            ),
        };
        Ok(Self {
            pool,
            migrated: Arc::default(),
        })
    }

    /// Which adapter this is, for logs.
    pub fn adapter(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "postgres",
            Pool::Sqlite(_) => "sqlite",
        }
    }

    /// Confirms the database answers and the schema is current (for `/ready`).
    ///
    /// # Errors
    /// `Unavailable` with the reason.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.ready().await?;
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
            .map_err(db_error)?;
        Ok(())
    }

    /// Runs pending migrations once per process; called before every query, so a
    /// database that was down at start-up is migrated as soon as it is back.
    async fn ready(&self) -> Result<(), StoreError> {
        let mut migrated = self.migrated.lock().await;
        if *migrated {
            return Ok(());
        }
        let outcome = on_pool!(self, pool => MIGRATIONS.run(pool).await);
        match outcome {
            Ok(()) => {
                tracing::info!(adapter = self.adapter(), "catalog schema is current");
                *migrated = true;
                Ok(())
            }
            Err(sqlx::migrate::MigrateError::Execute(error)) => Err(db_error(error)),
            // Another process applied the same migration a moment earlier: the next
            // call sees it recorded and carries on.
            Err(error) => Err(StoreError::unavailable(
                "catalog",
                format!("migrating the schema: {error}"),
            )),
        }
    }
}

/// The current time as the catalog stores it.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh opaque id: 122 random bits, no order, nothing to guess from.
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Maps driver errors to store errors: connection trouble is `Unavailable` (retry
/// later), broken constraints are the caller's mistake.
fn db_error(error: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    match error {
        sqlx::Error::RowNotFound => StoreError::NotFound("no such record".to_owned()),
        sqlx::Error::Database(ref db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(db.message().to_owned()),
            ErrorKind::ForeignKeyViolation => {
                StoreError::Invalid("the record refers to something that does not exist".into())
            }
            ErrorKind::CheckViolation | ErrorKind::NotNullViolation => {
                StoreError::Invalid(db.message().to_owned())
            }
            _ if is_busy(db.as_ref()) => StoreError::unavailable("catalog", db.message()),
            _ => StoreError::Internal(error.into()),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::unavailable("catalog", error),
        other => StoreError::Internal(other.into()),
    }
}

/// SQLite's "database is locked" after the busy timeout, and PostgreSQL refusing
/// connections while it starts or shuts down: both pass if retried.
fn is_busy(error: &dyn sqlx::error::DatabaseError) -> bool {
    let code = error.code().unwrap_or_default();
    matches!(
        code.as_ref(),
        "5" | "6" | "57P01" | "57P02" | "57P03" | "53300"
    )
}

impl super::Store for Catalog {
    async fn check(&self) -> Result<(), StoreError> {
        Catalog::check(self).await
    }
}
