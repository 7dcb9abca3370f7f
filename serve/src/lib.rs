//! `tympan-serve`: the HTTP service (Rocket). Routes, request parsing, limits, error mapping and
//! metrics live here; the logic they call is [`Service`], reachable without HTTP.
//!
//! Endpoints: `POST /predict`, `POST /feedback`, `GET /model | /health | /ready | /metrics`,
//! `GET /report | /report.json | /dashboard`, `GET /` (upload page), `GET /docs/` (Swagger UI),
//! `POST /admin/retrain | rollback | reload` (bearer token).

#![warn(missing_docs)]

pub mod api;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod input;
pub mod metrics;
pub mod service;

use std::sync::Arc;

use rocket::data::{ByteUnit, Limits};
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::Figment;

pub use config::ServeConfig;
pub use service::Service;

/// Builds the Rocket instance for a loaded service.
pub fn rocket(service: Arc<Service>) -> rocket::Rocket<rocket::Build> {
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
        .merge(("address", c.address))
        .merge(("port", c.port))
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
}
