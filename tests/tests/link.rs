//! The shaped link of the village-link benchmark does what it says: bytes take at
//! least their serialisation time plus the round trip, a lost segment still arrives
//! (late, in order), and a cut closes every open connection while new ones work.
//! (Lower bounds only: the link may be slower on a loaded machine, never faster.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use tonghu_tests::proxy::{LinkShape, ShapedLink};

/// An upstream that answers every connection by echoing what it reads.
fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn round_trip(link: &ShapedLink, bytes: &[u8]) -> (Duration, Vec<u8>) {
    let mut c = TcpStream::connect(link.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let mut w = c.try_clone().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || w.write_all(&data).unwrap());
    let mut got = vec![0u8; bytes.len()];
    c.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    (started.elapsed(), got)
}

#[test]
fn bytes_take_their_serialisation_time_and_the_round_trip_and_arrive_intact_in_order() {
    let link = ShapedLink::start(
        echo_server(),
        LinkShape {
            kbit_per_s: 400,
            rtt_ms: 200,
            loss: 0.1,
            cut_every: None,
            seed: 3,
        },
    );
    let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (took, got) = round_trip(&link, &bytes);
    assert_eq!(got, bytes, "every byte, in order, despite the losses");
    // 40 KB at 400 kbit/s is 0.8 s one way; the echo adds the way back in parallel,
    // the handshake and the round trip add 0.4 s.
    assert!(took >= Duration::from_millis(1100), "{took:?}");
    assert!(
        link.stats
            .segments_lost
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    let (up, down) = link.stats.bytes();
    assert_eq!((up, down), (40_000, 40_000));
}

#[test]
fn a_cut_closes_open_connections_and_new_ones_work() {
    let link = ShapedLink::start(
        echo_server(),
        LinkShape {
            kbit_per_s: 10_000,
            rtt_ms: 10,
            loss: 0.0,
            cut_every: Some(Duration::from_millis(1500)),
            seed: 3,
        },
    );
    let mut c = TcpStream::connect(link.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).unwrap();
    std::thread::sleep(Duration::from_millis(1800));
    let closed = c.write_all(b"again").is_err() || {
        let mut b = [0u8; 5];
        matches!(c.read(&mut b), Ok(0) | Err(_))
    };
    assert!(closed, "the connection open across the cut is closed");
    assert!(
        link.stats
            .cut_events
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    let (_, got) = round_trip(&link, b"after the cut");
    assert_eq!(got, b"after the cut");
}
