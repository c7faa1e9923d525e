//! One write to one field of one row: the unit that is captured, shipped, merged and
//! audited.

use crate::hlc::Hlc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A device's identity, minted once at enrollment (UUIDv7).
pub type DeviceId = Uuid;

/// The unit of access control and routing: a village code (or a township code for a
/// supervisor's view). A change carries the scope of the row it writes; a device holds
/// the rows of its scopes only.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct Scope(pub String);

impl Scope {
    pub fn new(code: impl Into<String>) -> Scope {
        Scope(code.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version of one field value: its clock and the device that wrote it. The merge
/// rule keeps the value with the larger stamp; `(hlc, device_id)` is unique because a
/// device never hands out the same clock value twice for one field.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
pub struct Stamp {
    pub hlc: Hlc,
    pub device_id: DeviceId,
}

/// Which field of which row a change writes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
pub struct FieldKey {
    pub table: String,
    pub row_id: Uuid,
    pub field: String,
}

/// A write to one field of one row, as captured on a device and carried by sync.
///
/// `op_id` makes the change unique everywhere (the server stores it exactly once);
/// `device_seq` is dense per device so the server can say "I hold everything up to N".
/// Fields that must change together (an address, a GPS fix with its accuracy) are one
/// field holding a JSON object.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub op_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub device_id: DeviceId,
    pub device_seq: u64,
    pub table: String,
    pub row_id: Uuid,
    pub field: String,
    /// Any JSON value (the field's type is checked against the schema).
    pub value: serde_json::Value,
    /// Hybrid logical clock: 16 lowercase hex digits (48-bit ms, 16-bit counter).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{16}$"))]
    pub hlc: Hlc,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub scope: Scope,
}

impl Change {
    /// The version this change would give its field.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            device_id: self.device_id,
        }
    }

    /// The field this change writes.
    pub fn key(&self) -> FieldKey {
        FieldKey {
            table: self.table.clone(),
            row_id: self.row_id,
            field: self.field.clone(),
        }
    }
}

/// Canonical JSON bytes of a value: object keys sorted, no whitespace. Two replicas
/// holding the same value produce the same bytes (serde_json's map is ordered).
pub fn canonical_json(value: &serde_json::Value) -> String {
    // serde_json::Map is a BTreeMap without the `preserve_order` feature, which this
    // workspace never enables, so serialisation is already canonical.
    serde_json::to_string(value).unwrap_or_default()
}
