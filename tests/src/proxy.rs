//! A fault-injecting TCP proxy between a device and the server: it cuts connections at
//! random byte offsets (in either direction), delays traffic, and repeats requests (it
//! replays what a client sent on a fresh upstream connection, so the server sees the
//! same request twice). Deterministic for a given seed.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to connections.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// Probability (0..1) that a connection is cut at a random byte offset.
    pub cut_probability: f64,
    /// The cut happens somewhere in the first `cut_within` bytes of one direction.
    pub cut_within: u64,
    /// Up to this many ms of delay before forwarding each chunk.
    pub max_delay_ms: u64,
    /// Probability that a connection's client bytes are replayed to the server once
    /// more after the connection ends.
    pub repeat_probability: f64,
    /// Cut every connection after exactly this many client→server bytes.
    pub cut_up_at: Option<u64>,
    /// The next this many connections lose the server's whole answer: the request
    /// reaches the server, no byte of the response reaches the client (an answer lost
    /// on the way back).
    pub lose_answers: u64,
    pub seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan {
            cut_probability: 0.0,
            cut_within: 16 * 1024,
            max_delay_ms: 0,
            repeat_probability: 0.0,
            cut_up_at: None,
            lose_answers: 0,
            seed: 1,
        }
    }
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub connections: AtomicU64,
    pub cuts: AtomicU64,
    pub replays: AtomicU64,
    pub bytes_to_server: AtomicU64,
    pub bytes_to_client: AtomicU64,
}

/// A running proxy; stops accepting when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    plan: Arc<Mutex<(FaultPlan, u64)>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ProxyStats::default());
        let seed = plan.seed | 1;
        let plan = Arc::new(Mutex::new((plan, seed)));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (stats, plan, stop) = (stats.clone(), plan.clone(), stop.clone());
            listener.set_nonblocking(true).unwrap();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            client.set_nonblocking(false).unwrap();
                            let decision = {
                                let mut g = plan.lock().unwrap();
                                let (p, rng) = &mut *g;
                                let mut d = Decision::draw(p, rng);
                                if p.lose_answers > 0 {
                                    p.lose_answers -= 1;
                                    d.cut_down = Some(0);
                                }
                                d
                            };
                            let stats = stats.clone();
                            std::thread::spawn(move || handle(client, upstream, decision, &stats));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        FaultProxy {
            addr,
            stats,
            plan,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the plan for new connections.
    pub fn set_plan(&self, plan: FaultPlan) {
        let mut g = self.plan.lock().unwrap();
        g.1 = plan.seed | 1;
        g.0 = plan;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug)]
struct Decision {
    /// Cut client→server after this many bytes.
    cut_up: Option<u64>,
    /// Cut server→client after this many bytes.
    cut_down: Option<u64>,
    delay_ms: u64,
    replay: bool,
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

fn chance(rng: &mut u64, p: f64) -> bool {
    (next(rng) % 1_000_000) as f64 / 1_000_000.0 < p
}

impl Decision {
    fn draw(p: &FaultPlan, rng: &mut u64) -> Decision {
        let cut = chance(rng, p.cut_probability);
        let offset = next(rng) % p.cut_within.max(1);
        let up = next(rng).is_multiple_of(2);
        Decision {
            cut_up: p.cut_up_at.or((cut && up).then_some(offset)),
            cut_down: (cut && !up).then_some(offset),
            delay_ms: if p.max_delay_ms > 0 {
                next(rng) % (p.max_delay_ms + 1)
            } else {
                0
            },
            replay: chance(rng, p.repeat_probability),
        }
    }
}

/// Copies `from` → `to`, cutting both after `cut` bytes. Returns the bytes copied and
/// (when `record`) the bytes themselves.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    cut: Option<u64>,
    delay_ms: u64,
    counter: &AtomicU64,
    cuts: &AtomicU64,
    record: bool,
) -> Vec<u8> {
    let mut buf = [0u8; 8192];
    let mut sent = 0u64;
    let mut recorded = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        let mut n = n;
        let mut cutting = false;
        if let Some(c) = cut {
            if sent + n as u64 >= c {
                n = (c - sent) as usize;
                cutting = true;
            }
        }
        if n > 0 && to.write_all(&buf[..n]).is_err() {
            break;
        }
        if record {
            recorded.extend_from_slice(&buf[..n]);
        }
        sent += n as u64;
        counter.fetch_add(n as u64, Ordering::Relaxed);
        if cutting {
            cuts.fetch_add(1, Ordering::Relaxed);
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    recorded
}

fn handle(client: TcpStream, upstream: SocketAddr, d: Decision, stats: &Arc<ProxyStats>) {
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let st = stats.clone();
    let down = std::thread::spawn(move || {
        pump(
            s2,
            c2,
            d.cut_down,
            d.delay_ms,
            &st.bytes_to_client,
            &st.cuts,
            false,
        );
    });
    let request = pump(
        client,
        server,
        d.cut_up,
        d.delay_ms,
        &stats.bytes_to_server,
        &stats.cuts,
        d.replay,
    );
    let _ = down.join();
    if d.replay && !request.is_empty() {
        // The same bytes once more, as a client that retried would send them.
        if let Ok(mut again) = TcpStream::connect(upstream) {
            stats.replays.fetch_add(1, Ordering::Relaxed);
            let _ = again.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = again.write_all(&request);
            let _ = again.shutdown(Shutdown::Write);
            let mut sink = Vec::new();
            let _ = again.read_to_end(&mut sink);
        }
    }
}
