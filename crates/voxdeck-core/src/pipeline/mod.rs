//! The voice loop (being written).

pub mod timeline;
