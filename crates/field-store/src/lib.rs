//! The device: everything a child director's phone keeps and does without a network.

pub mod photo;
