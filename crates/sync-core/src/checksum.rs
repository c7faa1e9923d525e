//! Per-scope checksums: an order-independent digest of the winning version of every
//! field a replica holds in one scope, so that a device and the server can prove they
//! agree, or find out that they don't and re-fetch that scope.
//!
//! The digest is a sum (mod 2^128) of one hash per field, plus a count. A sum can be
//! kept up to date as fields change (subtract the old version, add the new) without
//! rescanning, and it does not depend on the order changes arrived in.

use crate::change::{canonical_json, FieldKey, Stamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The digest of one scope's state.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeChecksum {
    /// Number of fields.
    pub fields: u64,
    /// Sum of the per-field hashes, as 32 hex digits on the wire.
    #[serde(with = "hex_u128")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{32}$"))]
    pub sum: u128,
}

impl ScopeChecksum {
    /// The hash of one field's winning version.
    pub fn field_hash(key: &FieldKey, stamp: &Stamp, value: &serde_json::Value) -> u128 {
        let mut h = Sha256::new();
        h.update(key.table.as_bytes());
        h.update([0]);
        h.update(key.row_id.as_bytes());
        h.update(key.field.as_bytes());
        h.update([0]);
        h.update(stamp.hlc.as_u64().to_be_bytes());
        h.update(stamp.device_id.as_bytes());
        h.update(canonical_json(value).as_bytes());
        let d = h.finalize();
        u128::from_be_bytes(d[..16].try_into().expect("16 bytes"))
    }

    /// Adds a field version.
    pub fn add(&mut self, field_hash: u128) {
        self.fields += 1;
        self.sum = self.sum.wrapping_add(field_hash);
    }

    /// Removes a field version that was added before.
    pub fn remove(&mut self, field_hash: u128) {
        self.fields -= 1;
        self.sum = self.sum.wrapping_sub(field_hash);
    }
}

mod hex_u128 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:032x}"))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        u128::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}
