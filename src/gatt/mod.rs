//! Generic Attribute Profile (Core spec Vol 3 Part G): the server side
//! lays services into ATT's table (`server`), the client side runs the
//! procedures against a peer (`client`).
pub mod client;
pub mod queue;
pub mod server;

pub use server::GattServer;
