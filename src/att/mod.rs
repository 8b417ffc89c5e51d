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

/// An attribute handle (Vol 3 Part F 3.2.2: 0x0001..=0xFFFF), at the
/// seam between the host and the APIs. A distinct type from connection
/// slots and HCI connection handles, so none is passed for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct AttHandle(pub u16);
