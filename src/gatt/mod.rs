//! Generic Attribute Profile (Core spec Vol 3 Part G).
pub mod client;
pub mod db;

pub use db::{AttPermissions, AttributeDb, DbError};
