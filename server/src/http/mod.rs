//! The relay's HTTP surface: the router and its state ([`app`]), devices' bearer tokens and
//! enrollment ([`auth`]), blobs ([`blobs`]), the KPI and heat routes ([`kpi`], [`heat`]), the
//! accept loop ([`connections`]), rate limits ([`limits`]) and the one error type handlers
//! return ([`error`]). Delivery's routes live with delivery ([`crate::delivery`]).

pub mod app;
pub mod auth;
pub mod blobs;
pub mod connections;
pub mod console;
pub mod error;
pub mod heat;
pub mod kpi;
pub mod limits;
