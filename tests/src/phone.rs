//! A phone of this release through its device API (`field_app::DeviceApp`, the
//! dispatcher every shell calls): enrolled with the real server, PIN set, data
//! encrypted, synced on demand (`sync_now` waiting for the round).

use crate::TestServer;
use field_app::lock::KdfParams;
use field_app::{AppConfig, DeviceApp};
use serde_json::{json, Value};
use std::sync::Arc;

const PIN: &str = "260518";

/// A phone of this release.
pub struct Phone {
    pub app: Arc<DeviceApp>,
    pub account: String,
    _dir: tempfile::TempDir,
}

impl Phone {
    /// A new phone enrolled for `account`, its PIN chosen.
    pub fn enrolled(server: &TestServer, account: &str) -> Phone {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = AppConfig {
            kdf: KdfParams::for_tests(),
            background_sync: None,
            watch_idle: false,
            ..AppConfig::default()
        };
        let app = DeviceApp::open(dir.path(), config).expect("open the app");
        let phone = Phone {
            app,
            account: account.to_string(),
            _dir: dir,
        };
        let code = server.enroll_code(account);
        phone.call("enroll", json!({"server_url": server.url, "code": code}));
        let st = phone.call("set_pin", json!({"pin": PIN}));
        assert_eq!(st["phase"], "unlocked", "{st}");
        phone
    }

    /// A device command that must succeed.
    pub fn call(&self, command: &str, args: Value) -> Value {
        self.app.call(command, args).unwrap_or_else(|e| {
            panic!(
                "{} on {}: {} / {} / {}",
                command, self.account, e.code, e.zh, e.en
            )
        })
    }

    /// A device command that must fail; its error.
    pub fn call_err(&self, command: &str, args: Value) -> field_app::UserError {
        match self.app.call(command, args) {
            Ok(v) => panic!("{command} should have failed, answered {v}"),
            Err(e) => e,
        }
    }

    /// One sync round, waited for; the sync state after it (its error, if any, in
    /// `last_error`).
    pub fn sync(&self) -> Value {
        self.call("sync_now", json!({"wait": true}))
    }

    /// The whole synced state (canonical export).
    pub fn export(&self) -> Value {
        self.call("export", json!({}))
    }
}
