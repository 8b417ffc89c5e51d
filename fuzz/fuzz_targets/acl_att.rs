//! ACL -> L2CAP -> {ATT server, LE signaling, SMP}: no input may panic,
//! overflow or produce a response longer than ATT_MTU.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::att::db::AttributeDb;
use mpble::att::pdu::AttPdu;
use mpble::att::server::{handle_pdu, AttBearer, LinkSecurity};
use mpble::config::{ATT_MTU_DEFAULT, ATT_MTU_MAX, MAX_CONNECTIONS};
use mpble::l2cap::{self, Reassembler};
use mpble::smp;

#[path = "common.rs"]
mod common;

struct Conn {
    reassembler: Reassembler,
    bearer: AttBearer,
}

fuzz_target!(|input: &[u8]| {
    let mut db = Box::new(AttributeDb::new());
    common::demo_db(&mut db);
    let mut conns: Vec<Conn> = (0..MAX_CONNECTIONS)
        .map(|_| Conn {
            reassembler: Reassembler::new(),
            bearer: AttBearer::new(),
        })
        .collect();
    let mut out = [0u8; ATT_MTU_MAX + 64];

    for (handle, pb, data) in common::acl_packets(input) {
        // Bits 0-1 of the connection handle pick the link, bits 2-3 and 6
        // its security, bit 4 starts an indication (so confirmations
        // matter), bit 5 drops the link.
        let idx = usize::from(handle) % MAX_CONNECTIONS;
        let security = LinkSecurity {
            encrypted: handle & 0x4 != 0,
            authenticated: handle & 0x8 != 0,
            key_size: 16,
            has_ltk: handle & 0x40 != 0,
        };
        let conn = &mut conns[idx];
        if handle & 0x10 != 0 {
            let _ = conn.bearer.begin_indication();
        }
        if handle & 0x20 != 0 {
            conn.reassembler.reset();
            conn.bearer.reset();
            db.reset_connection(idx);
        }
        let frame = match conn.reassembler.push(pb, data) {
            Ok(Some(f)) => f,
            _ => continue,
        };
        assert!(frame.payload.len() <= mpble::config::L2CAP_PDU_MAX);
        match frame.cid {
            l2cap::CID_ATT => {
                let mtu = usize::from(conn.bearer.mtu());
                let o = handle_pdu(
                    &mut conn.bearer,
                    &mut db,
                    idx,
                    security,
                    frame.payload,
                    &mut out,
                );
                assert!(o.response_len <= mtu, "response longer than ATT_MTU");
                // config::ATT_SERVER_EVENTS_MAX holds every event of a PDU.
                assert_eq!(o.dropped, 0, "ATT server events lost");
                if o.response_len > 0 {
                    // Whatever the server says must itself be a valid PDU.
                    AttPdu::decode(&out[..o.response_len]).expect("server response decodes");
                }
                let m = usize::from(conn.bearer.mtu());
                assert!((ATT_MTU_DEFAULT..=ATT_MTU_MAX).contains(&m));
            }
            l2cap::CID_LE_SIGNALING => {
                let o = l2cap::signaling::handle(frame.payload, &mut out);
                assert!(o.response_len <= out.len());
            }
            l2cap::CID_SMP => {
                let n = smp::handle(frame.payload, &mut out);
                assert!(n <= 2);
            }
            _ => {}
        }
    }
    // Local API paths the host will drive with peer-influenced lengths.
    let mut n_out = [0u8; ATT_MTU_MAX];
    for c in &conns {
        let n =
            mpble::att::server::write_notification(18, &[0xAB; 600], c.bearer.mtu(), &mut n_out);
        assert!(n <= usize::from(c.bearer.mtu()));
    }
});
