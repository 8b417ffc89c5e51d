//! Attribute Protocol (Core spec Vol 3 Part F).
pub mod pdu;
pub mod server;

pub use pdu::{AttPdu, DecodeError};
pub use server::{
    handle_pdu, write_indication, write_notification, AttBearer, Busy, LinkSecurity, ServerEvent,
    ServerOutcome,
};
