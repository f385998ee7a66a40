//! The relay's accept loop: HTTP/1.1 connections with a header-read timeout and connection caps
//! (docs/operations.md, "Limits and memory budget").
//!
//! `axum::serve` gives no header timeout (hyper's needs a timer it does not set) and no cap, so
//! a client sending one header line every few seconds held its connection forever, and a few
//! hundred of them held as many sockets. Here every connection must deliver a request's headers
//! within `header_timeout` (between requests too: an idle keep-alive connection is closed after
//! the same time), at most `max_connections` are open at once and at most
//! `max_connections_per_ip` from one address. A connection over a cap is answered at once with
//! a 503 in the documented JSON shape and closed, so the kernel's backlog never fills with
//! sockets nobody serves.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::metrics::Metrics;

/// How connections are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this time (and an idle connection is closed after it).
    pub header_timeout: Duration,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one IP address.
    pub max_connections_per_ip: usize,
}

/// Counts open connections, in all and per address; a [`Slot`] gives its place back on drop.
#[derive(Debug, Default)]
struct Occupancy {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Slot {
    occupancy: Arc<Mutex<Occupancy>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.occupancy.lock().unwrap_or_else(|p| p.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                o.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Total,
    PerIp,
}

fn take_slot(
    occupancy: &Arc<Mutex<Occupancy>>,
    ip: IpAddr,
    limits: &ConnectionLimits,
) -> Result<Slot, Refusal> {
    let mut o = occupancy.lock().unwrap_or_else(|p| p.into_inner());
    if o.total >= limits.max_connections {
        return Err(Refusal::Total);
    }
    let from_ip = o.per_ip.get(&ip).copied().unwrap_or(0);
    if from_ip >= limits.max_connections_per_ip {
        return Err(Refusal::PerIp);
    }
    o.total += 1;
    *o.per_ip.entry(ip).or_insert(0) += 1;
    Ok(Slot { occupancy: occupancy.clone(), ip })
}

/// The answer on a connection over a cap: a complete HTTP/1.1 response, then the connection closes.
fn refusal_response(refusal: Refusal) -> Vec<u8> {
    let message = match refusal {
        Refusal::Total => "the relay has as many connections open as it serves at once; retry shortly",
        Refusal::PerIp => "too many connections are open from this address; close some or retry shortly",
    };
    let body =
        serde_json::json!({ "error": { "code": "too_many_connections", "message": message } }).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets every
/// open connection finish the request it is serving (idle ones close at once) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let occupancy = Arc::new(Mutex::new(Occupancy::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        // Finished connections are reaped as we go, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a little instead of spinning, then accept again.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match take_slot(&occupancy, peer.ip(), &limits) {
            Ok(slot) => slot,
            Err(refusal) => {
                metrics.record_connection_refused();
                tracing::debug!(%peer, ?refusal, "connection over the cap refused");
                // Best effort and without waiting: a client that does not read its answer just
                // sees the connection close.
                let _ = stream.try_write(&refusal_response(refusal));
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            peer,
            slot,
            router.clone(),
            http.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    _slot: Slot,
    router: Router,
    http: Arc<hyper::server::conn::http1::Builder>,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            Ok::<_, Infallible>(router.oneshot(request.map(Body::new)).await.unwrap_or_else(|e| match e {}))
        }
    });
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                log_connection_error(&e);
            }
            return;
        }
        _ = stop.wait_for(|stopped| *stopped) => connection.as_mut().graceful_shutdown(),
    }
    if let Err(e) = connection.await {
        log_connection_error(&e);
    }
}

fn log_connection_error(e: &hyper::Error) {
    if e.is_timeout() {
        tracing::debug!("connection closed: its request headers did not arrive in time");
    } else {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_in_all_and_per_address_and_come_back_on_drop() {
        let limits = ConnectionLimits {
            header_timeout: Duration::from_secs(1),
            max_connections: 3,
            max_connections_per_ip: 2,
        };
        let occupancy = Arc::new(Mutex::new(Occupancy::default()));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = take_slot(&occupancy, a, &limits).unwrap();
        let _a2 = take_slot(&occupancy, a, &limits).unwrap();
        assert_eq!(take_slot(&occupancy, a, &limits).unwrap_err(), Refusal::PerIp);
        let _b1 = take_slot(&occupancy, b, &limits).unwrap();
        assert_eq!(take_slot(&occupancy, b, &limits).unwrap_err(), Refusal::Total);
        drop(a1);
        let _b2 = take_slot(&occupancy, b, &limits).unwrap();
        assert_eq!(occupancy.lock().unwrap().total, 3);
    }

    #[test]
    fn the_refusal_is_a_complete_json_answer() {
        let answer = String::from_utf8(refusal_response(Refusal::PerIp)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
