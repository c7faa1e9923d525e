//! Sync: what the sync screen shows, "sync now", rejected changes taken off the list,
//! and the device's counters and exports for scripts. The runner's progress reaches
//! the window as events (`crate::events`), not through these.

super::device_commands! {
    sync_state, sync_now, acknowledge_rejected, status, init, export, checksums,
}
