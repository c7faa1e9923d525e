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

/// A village's link, for the village-link benchmark (`village-link`): the bandwidth,
/// round-trip time and loss of a weak 2G/3G connection, and cuts (the phone losing
/// its signal now and then).
///
/// The model, per direction (each direction has its own bandwidth, shared by every
/// connection through the link, as one radio link is): the bytes a side writes are
/// cut into 1,460-byte segments; a segment is put on the link when the link is free
/// (serialisation: its bytes at `kbit_per_s`), and arrives half a round trip later.
/// A lost segment (probability `loss`) is sent again — it costs its serialisation
/// time twice — and, as with TCP with selective acknowledgements, it and everything
/// after it are delivered one round trip late (head-of-line blocking); the link itself
/// keeps sending. A new connection pays one round trip (the TCP handshake) before its
/// first byte. Each direction buffers at most 64 KiB, so a sender feels the link.
/// Not modelled: slow start and congestion windows (optimistic on a long transfer by
/// a few round trips per loss), TLS handshakes (HTTPS adds one or two round trips per
/// new connection).
#[derive(Clone, Debug)]
pub struct LinkShape {
    /// Bandwidth of each direction, kilobits (1,000 bits) per second.
    pub kbit_per_s: u64,
    /// Round-trip time, ms.
    pub rtt_ms: u64,
    /// Probability that a segment is lost and sent again.
    pub loss: f64,
    /// Every this long, every open connection is cut (both directions closed at
    /// once); new connections work at once.
    pub cut_every: Option<Duration>,
    pub seed: u64,
}

impl LinkShape {
    /// The village link: 250 kbit/s, 300 ms round trips, 2 % loss.
    pub fn village() -> LinkShape {
        LinkShape {
            kbit_per_s: 250,
            rtt_ms: 300,
            loss: 0.02,
            cut_every: None,
            seed: 7,
        }
    }
}

/// What went over a shaped link.
#[derive(Debug, Default)]
pub struct LinkStats {
    pub connections: AtomicU64,
    /// Cut moments (every `cut_every`).
    pub cut_events: AtomicU64,
    /// Connections cut.
    pub connections_cut: AtomicU64,
    /// Segments lost and sent again.
    pub segments_lost: AtomicU64,
    /// Bytes delivered to the server (requests) and to the phone (answers).
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

impl LinkStats {
    /// (bytes up, bytes down) so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_up.load(Ordering::Relaxed),
            self.bytes_down.load(Ordering::Relaxed),
        )
    }
}

/// One direction of the link: when it is free again, and its loss draws.
struct Wire {
    free_at: std::time::Instant,
    rng: u64,
}

/// Open connections, so a cut can close them all.
type Open = Arc<Mutex<Vec<(u64, TcpStream, TcpStream)>>>;

/// A running shaped link in front of `upstream`; stops accepting when dropped.
pub struct ShapedLink {
    pub addr: SocketAddr,
    pub stats: Arc<LinkStats>,
    stop: Arc<AtomicBool>,
}

const SEGMENT: usize = 1460;
/// Segments buffered per direction (64 KiB).
const BUFFERED_SEGMENTS: usize = 45;

impl ShapedLink {
    pub fn start(upstream: SocketAddr, shape: LinkShape) -> ShapedLink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(LinkStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let now = std::time::Instant::now();
        let up = Arc::new(Mutex::new(Wire {
            free_at: now,
            rng: shape.seed | 1,
        }));
        let down = Arc::new(Mutex::new(Wire {
            free_at: now,
            rng: (shape.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1,
        }));
        let open: Open = Arc::new(Mutex::new(Vec::new()));
        if let Some(every) = shape.cut_every {
            let (open, stats, stop) = (open.clone(), stats.clone(), stop.clone());
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                let mut n = 1u32;
                while !stop.load(Ordering::Relaxed) {
                    let at = start + every * n;
                    let now = std::time::Instant::now();
                    if now < at {
                        std::thread::sleep((at - now).min(Duration::from_millis(50)));
                        continue;
                    }
                    n += 1;
                    stats.cut_events.fetch_add(1, Ordering::Relaxed);
                    for (_, c, s) in open.lock().unwrap().drain(..) {
                        stats.connections_cut.fetch_add(1, Ordering::Relaxed);
                        let _ = c.shutdown(Shutdown::Both);
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
            });
        }
        {
            let (stats, stop) = (stats.clone(), stop.clone());
            listener.set_nonblocking(true).unwrap();
            std::thread::spawn(move || {
                let mut id = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            client.set_nonblocking(false).unwrap();
                            let Ok(server) = TcpStream::connect(upstream) else {
                                continue;
                            };
                            id += 1;
                            stats.connections.fetch_add(1, Ordering::Relaxed);
                            let _ = client.set_nodelay(true);
                            let _ = server.set_nodelay(true);
                            open.lock().unwrap().push((
                                id,
                                client.try_clone().unwrap(),
                                server.try_clone().unwrap(),
                            ));
                            let one_way = Duration::from_millis(shape.rtt_ms / 2);
                            let rtt = Duration::from_millis(shape.rtt_ms);
                            let lane =
                                |from: &TcpStream, to: &TcpStream, wire, bytes, hello| Lane {
                                    from: from.try_clone().unwrap(),
                                    to: to.try_clone().unwrap(),
                                    wire,
                                    shape: shape.clone(),
                                    one_way,
                                    rtt,
                                    first_extra: if hello { rtt } else { Duration::ZERO },
                                    stats: stats.clone(),
                                    bytes,
                                };
                            let a = lane(&client, &server, up.clone(), Direction::Up, true);
                            let b = lane(&server, &client, down.clone(), Direction::Down, false);
                            let open = open.clone();
                            std::thread::spawn(move || {
                                let t = std::thread::spawn(move || a.run());
                                b.run();
                                let _ = t.join();
                                open.lock().unwrap().retain(|(i, _, _)| *i != id);
                            });
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        ShapedLink { addr, stats, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ShapedLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// One direction of one connection through the link.
struct Lane {
    from: TcpStream,
    to: TcpStream,
    wire: Arc<Mutex<Wire>>,
    shape: LinkShape,
    one_way: Duration,
    rtt: Duration,
    /// Added to the first segment's arrival (the handshake of a new connection).
    first_extra: Duration,
    stats: Arc<LinkStats>,
    bytes: Direction,
}

impl Lane {
    /// Reads segments as the sender writes them and hands them, with their arrival
    /// time, to a writer that delivers each at that time.
    fn run(self) {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Option<(std::time::Instant, Vec<u8>)>>(
            BUFFERED_SEGMENTS,
        );
        let (to, stats, bytes) = (self.to, self.stats.clone(), self.bytes);
        let writer = std::thread::spawn(move || {
            let mut to = to;
            while let Ok(Some((at, seg))) = rx.recv() {
                let now = std::time::Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                // Counted before the write: a receiver that has read every byte then
                // finds them all counted (counted after, a test reading the figures
                // the moment its last byte arrived could see the last segment missing).
                let counter = match bytes {
                    Direction::Up => &stats.bytes_up,
                    Direction::Down => &stats.bytes_down,
                };
                counter.fetch_add(seg.len() as u64, Ordering::Relaxed);
                if to.write_all(&seg).is_err() {
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
        let mut from = self.from;
        let mut buf = [0u8; SEGMENT];
        let mut last = std::time::Instant::now();
        let mut extra = self.first_extra;
        let per_byte = 8.0 / (self.shape.kbit_per_s.max(1) as f64 * 1000.0);
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let at = {
                let mut w = self.wire.lock().unwrap();
                let now = std::time::Instant::now();
                let send = Duration::from_secs_f64(n as f64 * per_byte);
                w.free_at = w.free_at.max(now) + send;
                let lost = chance(&mut w.rng, self.shape.loss);
                let mut at = w.free_at + self.one_way + extra;
                if lost {
                    self.stats.segments_lost.fetch_add(1, Ordering::Relaxed);
                    w.free_at += send;
                    at += self.rtt + send;
                }
                at.max(last)
            };
            extra = Duration::ZERO;
            last = at;
            if tx.send(Some((at, buf[..n].to_vec()))).is_err() {
                break;
            }
        }
        let _ = tx.send(None);
        let _ = writer.join();
    }
}
