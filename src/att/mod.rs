//! Attribute Protocol (Core spec Vol 3 Part F): the PDUs, the attribute
//! table and the server that answers a peer's requests from it.
pub mod db;
pub mod pdu;
pub mod server;

pub use db::{AttPermissions, AttributeDb, DbError};
pub use pdu::{AttPdu, DecodeError};
pub use server::{
    handle_pdu, write_indication, write_notification, AttBearer, Busy, LinkSecurity, ServerEvent,
    ServerOutcome,
};
