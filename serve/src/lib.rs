//! `tympan-serve`: the HTTP service (Rocket). Routes, request parsing, limits, error mapping and
//! metrics live here; the logic they call is [`Service`], reachable without HTTP.
//!
//! Endpoints: `POST /predict`, `POST /feedback`, `GET /model | /health | /ready | /metrics`,
//! `GET /report | /report.json | /dashboard`, `GET /` (upload page), `GET /docs/` (Swagger UI),
//! `POST /admin/retrain | rollback | reload`, `GET /admin/retrain/{id}` (bearer token).

#![warn(missing_docs)]

pub mod api;
pub mod classes;
pub mod cluster;
pub mod config;
pub mod embed_pool;
pub mod error;
pub mod guard;
pub mod healthcheck;
pub mod input;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod prediction_log;
pub mod recent;
pub mod request_log;
pub mod service;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rocket::data::{ByteUnit, Limits};
use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::Figment;

pub use config::ServeConfig;
pub use service::Service;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The public address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Rocket failed to launch or to shut down.
    #[error(transparent)]
    Rocket(#[from] Box<rocket::Error>),
}

/// Serves until shutdown (SIGTERM or ctrl-c). With the connection guard on (the default) the
/// guard owns the configured address and Rocket listens on a loopback port behind it.
pub async fn serve(service: Arc<Service>) -> Result<(), LaunchError> {
    live::start(&service);
    cluster::start(&service);
    let c = &service.config;
    let public = SocketAddr::new(c.address, c.port);
    if !c.guard {
        rocket(service, public)
            .attach(announce(public))
            .launch()
            .await
            .map_err(Box::new)?;
        return Ok(());
    }
    let listener = std::net::TcpListener::bind(public).map_err(|source| LaunchError::Bind {
        address: public,
        source,
    })?;
    let limits = guard::GuardLimits {
        max_connections: guard::fit_connection_cap(c.max_connections),
        idle: Duration::from_secs(c.idle_timeout),
        request: Duration::from_secs(c.request_timeout),
        body_budget: body_budget(c),
    };
    let closed = service.metrics.guard_closed.clone();
    let http = service.metrics.http.clone();
    let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    // The guard's thread lives until Rocket has shut down.
    let running = Arc::new(std::sync::Mutex::new(None));
    let held = Arc::clone(&running);
    let listener = std::sync::Mutex::new(Some(listener));
    rocket(service, loopback)
        .attach(announce(public))
        .attach(AdHoc::on_liftoff("connection guard", move |rocket| {
            let upstream = SocketAddr::new(rocket.config().address, rocket.config().port);
            let listener = listener.lock().unwrap_or_else(|p| p.into_inner()).take();
            Box::pin(async move {
                let Some(listener) = listener else { return };
                let heartbeat = guard::Heartbeat::new();
                heartbeat.keep_beating();
                let started = guard::start(
                    listener,
                    guard::Guard {
                        upstream,
                        limits,
                        closed,
                        http,
                        workers: rocket::tokio::runtime::Handle::current(),
                        heartbeat,
                    },
                );
                match started {
                    Ok(thread) => *held.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread),
                    Err(e) => {
                        tracing::error!(error = %e, "the connection guard could not start");
                        rocket.shutdown().notify();
                    }
                }
            })
        }))
        .launch()
        .await
        .map_err(Box::new)?;
    drop(running);
    Ok(())
}

/// The configured body budget, raised to what one upload of the largest size needs (with room
/// for its head and multipart framing) when it is set lower: a budget no upload fits would
/// refuse every large one.
fn body_budget(c: &ServeConfig) -> u64 {
    let one_upload = c.upload_limit + 64 * 1024;
    if c.body_budget < one_upload {
        tracing::warn!(
            body_budget = c.body_budget,
            raised_to = one_upload,
            "the body budget is under one upload of the largest size; raised"
        );
    }
    c.body_budget.max(one_upload)
}

/// The startup line, once Rocket listens: Rocket's own launch lines are quieted (they name its
/// loopback port behind the guard, not the address clients use). Data files by name only.
fn announce(public: SocketAddr) -> AdHoc {
    AdHoc::on_liftoff("startup log", move |rocket| {
        Box::pin(async move {
            let Some(service) = rocket.state::<Arc<Service>>() else {
                return;
            };
            let c = &service.config;
            tracing::info!(
                address = %public,
                model_version = %service.current().meta.version,
                reference = config::REF_FILE,
                production = config::PROD_FILE,
                feedback_rows = service.feedback_rows(),
                retrain_every = c.retrain_every,
                guard = c.guard,
                "serving"
            );
        })
    })
}

/// Builds the Rocket instance for a loaded service, listening on `bind`.
pub fn rocket(service: Arc<Service>, bind: SocketAddr) -> rocket::Rocket<rocket::Build> {
    let c = &service.config;
    let upload = ByteUnit::from(c.upload_limit);
    let limits = Limits::default()
        .limit("bytes", upload)
        .limit("data-form", upload + ByteUnit::from(64 * 1024))
        .limit("file", upload)
        .limit("form", ByteUnit::from(64 * 1024))
        .limit("json", upload);
    let mut figment = Figment::from(rocket::Config::default())
        .merge(Serialized::defaults(rocket::Config {
            log_level: rocket::config::LogLevel::Critical,
            ..rocket::Config::default()
        }))
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .merge(("address", bind.ip()))
        .merge(("port", bind.port()))
        .merge(("limits", limits))
        .merge(("ident", "tympan"));
    if let Some(w) = c.workers {
        figment = figment.merge(("workers", w));
    }
    rocket::custom(figment)
        .manage(service)
        .mount("/", api::routes())
        .register("/", error::catchers())
        .attach(metrics::RequestMetrics)
        .attach(request_log::RequestLog)
}
