//! Fuzzing the push path: arbitrary bytes (and mutated valid bodies) are decoded as a
//! push request and, when they decode, validated and planned by the ingest rules.
//! Nothing may panic.

use proptest::prelude::*;
use sync_core::wire::PushRequest;
use sync_server::ingest;
use sync_server::model::{DeviceAuth, Principal, Role};

fn device() -> DeviceAuth {
    DeviceAuth {
        device_id: uuid::Uuid::from_u128(1),
        revoked: false,
        principal: Principal::new(1, Role::Director, vec!["A".into()]),
    }
}

fn decode_and_plan(bytes: &[u8]) {
    if let Ok(req) = serde_json::from_slice::<PushRequest>(bytes) {
        let keys = ingest::keys(&req.changes);
        let _ = keys;
        let _ = ingest::plan(
            &device(),
            &req.changes,
            ingest::Loaded::default(),
            1_760_000_000_000,
            600_000,
        );
    }
}

const VALID: &str = r#"{"protocol":1,"device_id":"00000000-0000-0000-0000-000000000001","heartbeat":{"pending_changes":1,"oldest_pending_secs":0,"app_version":"1","device_clock_ms":0,"free_storage_bytes":0},
"changes":[{"op_id":"00000000-0000-0000-0000-000000000009","device_id":"00000000-0000-0000-0000-000000000001","device_seq":1,"table":"child","row_id":"00000000-0000-0000-0000-000000000002","field":"village_code","value":"A","hlc":"0000019a00000000","scope":"A"},
{"op_id":"00000000-0000-0000-0000-00000000000a","device_id":"00000000-0000-0000-0000-000000000001","device_seq":2,"table":"guardian","row_id":"00000000-0000-0000-0000-000000000003","field":"child_id","value":"00000000-0000-0000-0000-000000000002","hlc":"0000019a00000001","scope":"A"}]}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode_and_plan(&bytes);
    }

    #[test]
    fn mutated_valid_bodies_never_panic(edits in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8)) {
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        decode_and_plan(&bytes);
    }

    #[test]
    fn any_values_in_a_valid_shape_never_panic(table in "[a-z_]{0,12}", field in "[a-z_]{0,14}", value in prop_oneof![Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from), ".{0,40}".prop_map(serde_json::Value::from)], seq in any::<u64>(), hlc in any::<u64>()) {
        let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
        let c = &mut v["changes"][0];
        c["table"] = table.into();
        c["field"] = field.into();
        c["value"] = value;
        c["device_seq"] = seq.into();
        c["hlc"] = format!("{hlc:016x}").into();
        decode_and_plan(&serde_json::to_vec(&v).unwrap());
    }
}

#[test]
fn the_valid_body_plans_cleanly() {
    let req: PushRequest = serde_json::from_str(VALID).unwrap();
    let mut loaded = ingest::Loaded::default();
    loaded.villages.insert("A".into());
    let plan = ingest::plan(&device(), &req.changes, loaded, 1_760_000_000_000, 600_000);
    assert!(plan.rejections.is_empty(), "{:?}", plan.rejections);
    assert_eq!(plan.accepted, vec![0, 1]);
}
