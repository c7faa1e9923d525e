//! `field-bridge`: the field app's device API over HTTP on localhost.
//!
//! `POST /api/<command>` with the command's arguments as the JSON body answers with the
//! command's result (200) or its [`field_app::UserError`] (4xx/5xx) — the same commands,
//! through the same dispatcher, as the Tauri app's `invoke`. `GET /api/events` streams the
//! app's events (server-sent events named `app_state`, `sync_state`, `sync_progress`).
//! `GET /api/image/<sha256>` serves an image the phone holds (for `<img src>`). Every
//! other path serves the built UI (`--ui`, default `ui/dist`).
//!
//! It listens on loopback only, and only its own page may use it (module [`guard`]):
//! every request must name the bridge itself as its `Host` (a name that resolves to
//! 127.0.0.1 — DNS rebinding — or another port is refused), a request with an
//! `Origin` must come from the bridge's own origin, a browser's `Sec-Fetch-Site` must
//! be `same-origin` (or `none`: typed in the address bar), and a command must come as
//! `Content-Type: application/json` (or with an `X-Tonghu` header), which a page of
//! another site cannot send without a CORS preflight the bridge never grants. Every
//! answer forbids framing (`frame-ancestors 'none'`, `X-Frame-Options: DENY`) and
//! sniffing, and is readable by the bridge's own pages only
//! (`Cross-Origin-Resource-Policy: same-origin`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Parser;
use field_app::{AppConfig, AppEvent, DeviceApp, RunnerConfig, UserError};
use futures_util::stream::Stream;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

mod guard;

#[derive(Parser)]
#[command(
    name = "field-bridge",
    about = "The Tonghu field app's commands over HTTP on localhost",
    version
)]
struct Cli {
    /// The phone's data folder.
    #[arg(long, env = "TONGHU_DEVICE_DIR", default_value = "tonghu-device")]
    data: PathBuf,
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:8471")]
    listen: SocketAddr,
    /// The built UI to serve.
    #[arg(long, default_value = "ui/dist")]
    ui: PathBuf,
    /// Run the device with its wall clock off by this many ms (testing).
    #[arg(
        long,
        env = "TONGHU_CLOCK_SKEW_MS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    clock_skew_ms: i64,
    /// First wait after the server could not be reached, ms (doubles, with jitter).
    #[arg(long, default_value_t = 5000)]
    probe_base_ms: u64,
    /// Longest wait between probes, ms.
    #[arg(long, default_value_t = 300_000)]
    probe_cap_ms: u64,
    /// Sync this long after a save, ms.
    #[arg(long, default_value_t = 3000)]
    after_save_ms: u64,
    /// Sync this often while the server is reachable, s.
    #[arg(long, default_value_t = 900)]
    periodic_secs: u64,
    /// Cheap PIN key derivation, for tests only (never for real data).
    #[arg(long, hide = true)]
    insecure_fast_kdf: bool,
    /// Another origin whose pages may use the bridge besides its own (development:
    /// Vite's server, `http://127.0.0.1:5173`). Repeat for several.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
}

#[derive(Clone)]
struct Bridge {
    app: Arc<DeviceApp>,
    events: broadcast::Sender<AppEvent>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.listen.ip().is_loopback() {
        anyhow::bail!("the bridge listens on loopback only (got {})", cli.listen);
    }
    let config = AppConfig {
        clock_skew_ms: cli.clock_skew_ms,
        kdf: if cli.insecure_fast_kdf {
            field_app::lock::KdfParams::for_tests()
        } else {
            field_app::lock::KdfParams::default()
        },
        background_sync: Some(RunnerConfig {
            probe_base: Duration::from_millis(cli.probe_base_ms),
            probe_cap: Duration::from_millis(cli.probe_cap_ms.max(cli.probe_base_ms)),
            after_save: Duration::from_millis(cli.after_save_ms),
            periodic: Duration::from_secs(cli.periodic_secs.max(1)),
            ..RunnerConfig::default()
        }),
        watch_idle: true,
        ..AppConfig::default()
    };
    let app = DeviceApp::open(&cli.data, config).map_err(|e| anyhow::anyhow!("{}", e.en))?;
    let (events, _) = broadcast::channel(256);
    {
        let tx = events.clone();
        app.subscribe(Arc::new(move |e: &AppEvent| {
            let _ = tx.send(e.clone());
        }));
    }
    let bridge = Bridge { app, events };
    let ui = tower_http::services::ServeDir::new(&cli.ui).fallback(
        tower_http::services::ServeFile::new(cli.ui.join("index.html")),
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cli.listen).await?;
        let addr = listener.local_addr()?;
        let own = guard::Own::new(addr, &cli.allow_origins)?;
        let router = Router::new()
            .route("/api/events", get(events_stream))
            .route("/api/image/{sha256}", get(image))
            .route("/api/{command}", post(command))
            .fallback_service(ui)
            .layer(tower_http::compression::CompressionLayer::new())
            .layer(axum::middleware::from_fn_with_state(own, guard::guard))
            .with_state(bridge);
        println!("Tonghu field app (bridge): http://{addr}/");
        axum::serve(listener, router).await?;
        anyhow::Ok(())
    })
}

fn status_of(e: &UserError) -> StatusCode {
    use field_app::error::Code;
    match e.code {
        Code::Locked | Code::PinRequired => StatusCode::LOCKED,
        Code::UnknownCommand | Code::NotFound => StatusCode::NOT_FOUND,
        Code::Internal | Code::Storage | Code::Io | Code::Corrupt => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        Code::Network => StatusCode::BAD_GATEWAY,
        Code::WrongPin | Code::PinWait => StatusCode::UNAUTHORIZED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn error_response(status: StatusCode, e: UserError) -> Response {
    (status, axum::Json(e)).into_response()
}

async fn command(
    State(b): State<Bridge>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = guard::command_marker(&headers) {
        return r;
    }
    let args = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return error_response(StatusCode::BAD_REQUEST, UserError::bad_request(e)),
        }
    };
    // Commands are blocking work (SQLite, key derivation, photo processing).
    let app = b.app.clone();
    match tokio::task::spawn_blocking(move || app.call(&name, args)).await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => error_response(status_of(&e), e),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            UserError::new(
                field_app::error::Code::Internal,
                "应用内部出错，请重试（已保存的数据不受影响）",
                e.to_string(),
            ),
        ),
    }
}

async fn image(State(b): State<Bridge>, Path(sha256): Path<String>) -> Response {
    let app = b.app.clone();
    let result = tokio::task::spawn_blocking(move || {
        app.call("photo", serde_json::json!({ "sha256": sha256 }))
    })
    .await;
    match result {
        Ok(Ok(v)) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v["base64"].as_str().unwrap_or(""))
                .unwrap_or_default();
            let mime = v["mime"].as_str().unwrap_or("image/jpeg").to_string();
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "private, max-age=3600".into()),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Err(e)) => error_response(status_of(&e), e),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, UserError::internal(e)),
    }
}

async fn events_stream(
    State(b): State<Bridge>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, Response> {
    let mut rx = b.events.subscribe();
    let stream = async_stream(move |tx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let e = Event::default()
                        .event(ev.name())
                        .data(ev.data().to_string());
                    if tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task (no extra crate for one generator).
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}
