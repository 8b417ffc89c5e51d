//! Writes the seed corpus for `acl_att` into the directory given as the
//! first argument (fuzz/seeds/acl_att): one file per client scenario, made
//! of the PDUs a GATT client (Bumble, nRF Connect) really sends.

#[path = "fuzz_targets/common.rs"]
mod common;
use common::{chunk, l2cap};

const H: u16 = 0x0040; // connection handle

fn att(pdus: &[&[u8]]) -> Vec<u8> {
    pdus.iter().flat_map(|p| l2cap(H, 4, p)).collect()
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: gen_seeds DIR");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    seeds.push((
        "discovery",
        att(&[
            &[0x02, 0x05, 0x02],
            &[0x10, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28],
            &[0x10, 0x14, 0x00, 0xFF, 0xFF, 0x00, 0x28],
            &[0x08, 0x10, 0x00, 0x13, 0x00, 0x03, 0x28],
            &[0x04, 0x13, 0x00, 0x13, 0x00],
            &[0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x0F, 0x18],
            &[0x08, 0x01, 0x00, 0xFF, 0xFF, 0x19, 0x2A],
        ]),
    ));
    seeds.push((
        "read_long",
        att(&[
            &[0x0A, 0x12, 0x00],
            &[0x0C, 0x12, 0x00, 0x16, 0x00],
            &[0x0C, 0x12, 0x00, 0x2C, 0x00],
            &[0x0E, 0x03, 0x00, 0x12, 0x00, 0x13, 0x00],
            &[0x20, 0x03, 0x00, 0x12, 0x00],
        ]),
    ));
    seeds.push((
        "writes",
        att(&[
            &[0x12, 0x13, 0x00, 0x01, 0x00],
            &[0x52, 0x12, 0x00, 0x01, 0x02],
            &[0x16, 0x12, 0x00, 0x00, 0x00, 1, 2, 3, 4],
            &[0x16, 0x12, 0x00, 0x04, 0x00, 5, 6],
            &[0x18, 0x01],
            &[0x16, 0x12, 0x00, 0x00, 0x00, 1],
            &[0x18, 0x00],
            &[0x1E],
        ]),
    ));
    // A 30-byte Write Request cut into three ACL fragments.
    let mut frame = vec![33, 0x00, 0x04, 0x00, 0x12, 0x12, 0x00];
    frame.extend_from_slice(&[0x77; 30]);
    let mut frag = chunk(H, 0b10, &frame[..10]);
    frag.extend(chunk(H, 0b01, &frame[10..25]));
    frag.extend(chunk(H, 0b01, &frame[25..]));
    seeds.push(("fragmented", frag));
    let mut sig = l2cap(
        H,
        5,
        &[
            0x12, 0x01, 0x08, 0x00, 0x06, 0x00, 0x0C, 0x00, 0x00, 0x00, 0xF4, 0x01,
        ],
    );
    sig.extend(l2cap(
        H,
        5,
        &[
            0x14, 0x02, 0x0A, 0x00, 0x80, 0x00, 0x40, 0x00, 0x17, 0x00, 0x17, 0x00, 0x01, 0x00,
        ],
    ));
    sig.extend(l2cap(H, 5, &[0x13, 0x03, 0x02, 0x00, 0x00, 0x00]));
    seeds.push(("signaling", sig));
    let mut smp = l2cap(H, 6, &[0x01, 0x03, 0x00, 0x09, 0x10, 0x07, 0x07]);
    smp.extend(l2cap(H, 6, &[0x0B, 0x05]));
    seeds.push(("smp", smp));
    // host_h4 takes an H4 stream: the same ACL packets behind the 0x02
    // indicator, after a chunk-size byte, plus controller events.
    let h4_dir = std::env::args().nth(2);
    if let Some(h4_dir) = &h4_dir {
        std::fs::create_dir_all(h4_dir).unwrap();
        for (name, bytes) in &seeds {
            let mut h4 = vec![0x07];
            let mut rest = &bytes[..];
            while rest.len() >= 2 {
                let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
                let end = (2 + len).min(rest.len());
                h4.push(0x02);
                h4.extend_from_slice(&rest[2..end]);
                rest = &rest[end..];
            }
            std::fs::write(format!("{h4_dir}/{name}"), h4).unwrap();
        }
        let events: Vec<u8> = [
            // Number Of Completed Packets, LE Connection Update Complete,
            // Encryption Change, Disconnection Complete (Vol 4 Part E 7.7).
            &[0x04, 0x13, 0x05, 0x01, 0x40, 0x00, 0x01, 0x00][..],
            &[
                0x04, 0x3E, 0x0A, 0x03, 0x00, 0x40, 0x00, 0x18, 0x00, 0x00, 0x00, 0x48, 0x00,
            ],
            &[0x04, 0x08, 0x04, 0x00, 0x40, 0x00, 0x01],
            &[0x04, 0x0E, 0x04, 0x01, 0x0A, 0x20, 0x00],
            &[0x04, 0x05, 0x04, 0x00, 0x40, 0x00, 0x13],
        ]
        .concat();
        let mut ev = vec![0x05];
        ev.extend(events);
        std::fs::write(format!("{h4_dir}/events"), ev).unwrap();
        // Client role (first byte bit 7): a server answering our service,
        // characteristic and descriptor discoveries and a read by UUID.
        let answers: &[&[u8]] = &[
            &[0x11, 0x06, 0x01, 0x00, 0x04, 0x00, 0x0F, 0x18],
            &[0x01, 0x10, 0x05, 0x00, 0x0A],
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
            &[0x01, 0x08, 0x03, 0x00, 0x0A],
            &[0x05, 0x01, 0x04, 0x00, 0x02, 0x29],
            &[0x01, 0x04, 0x05, 0x00, 0x0A],
            &[0x09, 0x03, 0x03, 0x00, 0x64],
            &[0x1B, 0x03, 0x00, 0x39, 0x39],
            &[0x1D, 0x03, 0x00, 0x41],
        ];
        let mut client = vec![0x87];
        for a in answers {
            client.push(0x02);
            let mut acl = Vec::new();
            acl.extend_from_slice(&(H | 0x2000).to_le_bytes());
            acl.extend_from_slice(&((a.len() + 4) as u16).to_le_bytes());
            acl.extend_from_slice(&(a.len() as u16).to_le_bytes());
            acl.extend_from_slice(&4u16.to_le_bytes());
            acl.extend_from_slice(a);
            client.extend(acl);
        }
        std::fs::write(format!("{h4_dir}/client"), client).unwrap();
    }
    for (name, bytes) in seeds {
        std::fs::write(format!("{dir}/{name}"), bytes).unwrap();
    }
    if let Some(smp_dir) = std::env::args().nth(3) {
        smp_seeds(&smp_dir);
    }
}

/// smp_pdu takes a configuration octet (our IO capability and MITM), then
/// SMP PDUs, each behind a length octet (bit 7: answer a pending Numeric
/// Comparison): what a peer sends in each pairing method (Vol 3 Part H
/// 2.3.5, C.2-C.3 message sequences); or, in mirror mode, a script that
/// pairs our two roles (see fuzz_targets/smp_pdu.rs).
fn smp_seeds(dir: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let framed_with = |config: u8, pdus: &[&[u8]]| -> Vec<u8> {
        std::iter::once(config)
            .chain(
                pdus.iter()
                    .flat_map(|p| std::iter::once(p.len() as u8).chain(p.iter().copied())),
            )
            .collect()
    };
    let framed = |pdus: &[&[u8]]| framed_with(0, pdus);
    let v16 = |code: u8, fill: u8| -> Vec<u8> {
        let mut v = vec![code];
        v.extend((0..16).map(|i| fill.wrapping_add(i)));
        v
    };
    // The debug public key (Vol 3 Part H 2.3.5.6.1), LSB first: the
    // initiator's, as the smp_pdu responder holds key B.
    let key_pdu = |x: &str, y: &str| -> Vec<u8> {
        let mut pdu = vec![0x0C];
        for coord in [x, y] {
            let mut b: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&coord[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            b.reverse();
            pdu.extend(b);
        }
        pdu
    };
    let public_key = key_pdu(
        "20b003d2f297be2c5e2c83a7e9f9a5b9eff49111acf4fddbcc0301480e359de6",
        "dc809c49652aeb6d63329abf5a52155c766345c28fed3024741c8ed01589d28b",
    );
    // Public key B of the P-256 sample data (Vol 2 Part G 7.1.2): what a
    // responder sends the smp_pdu initiator (which holds the debug key).
    let public_key_b = key_pdu(
        "1ea1f0f01faf1d9609592284f19e4c0047b58afd8615a69f559077b22faaa190",
        "4c55f33e429dad377356703a9ab85160472d1130e28e36765f89aff915b1214a",
    );
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "sc_just_works",
            framed(&[
                &[0x01, 0x03, 0x00, 0x2D, 0x10, 0x0F, 0x0F],
                &public_key,
                &v16(0x04, 0x40),
                &v16(0x0D, 0x50),
            ]),
        ),
        (
            // We are DisplayYesNo with MITM (config 0x05); the user says
            // yes (0x80, an empty PDU would say no) after Pairing Random.
            "sc_numeric_comparison",
            {
                let mut v = framed_with(
                    0x05,
                    &[&[0x01, 0x01, 0x00, 0x2D, 0x10, 0x0F, 0x0F], &public_key],
                );
                let random = v16(0x04, 0x40);
                v.push(0x80 | random.len() as u8);
                v.extend(&random);
                v.extend(framed_with(0, &[&v16(0x0D, 0x50)]).into_iter().skip(1));
                v
            },
        ),
        (
            // A responder answering the initiator's Pairing Request.
            "sc_initiator",
            framed(&[
                &[0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00],
                &public_key_b,
                &v16(0x03, 0x30),
                &v16(0x04, 0x40),
                &v16(0x0D, 0x50),
            ]),
        ),
        (
            "legacy_passkey",
            framed(&[
                &[0x01, 0x04, 0x00, 0x05, 0x10, 0x07, 0x07],
                &[0x02, 0x02, 0x00, 0x05, 0x10, 0x07, 0x07],
                &[0x0E, 0x00],
                &[0x0E, 0x01],
                &[0x0E, 0x04],
                &v16(0x03, 0x60),
                &v16(0x04, 0x70),
            ]),
        ),
        (
            "key_distribution",
            framed(&[
                &v16(0x06, 0x80),
                &[0x07, 0x34, 0x12, 1, 2, 3, 4, 5, 6, 7, 8],
                &v16(0x08, 0x90),
                &[0x09, 0x01, 0xF6, 0xF5, 0xF4, 0xF3, 0xF2, 0xC1],
                &v16(0x0A, 0xA0),
            ]),
        ),
        (
            "security_request_failed",
            framed(&[&[0x0B, 0x0D], &[0x05, 0x08], &[0x05, 0x0B]]),
        ),
    ];
    for (name, bytes) in seeds {
        std::fs::write(format!("{dir}/{name}"), bytes).unwrap();
    }
    // Mirror mode (bit 7 of the first octet): our initiator against our
    // responder; the script delivers everything in flight both ways
    // (0x0F to the responder, 0x07 to the initiator), a user types the
    // passkey shown (0x0C responder, 0x04 initiator) or answers yes (0x0D,
    // 0x05), and the link reports encryption (0x0E, 0x06).
    let both = |n: usize| -> Vec<u8> { [0x0F, 0x07].repeat(n) };
    let mirror = |ic: u8, rc: u8, user: &[u8]| -> Vec<u8> {
        let mut v = vec![0x80 | ic, rc];
        v.extend(both(3));
        v.extend(user);
        v.extend(both(45));
        v.extend([0x0E, 0x06]);
        v.extend(both(4));
        v
    };
    let mirrors: Vec<(&str, Vec<u8>)> = vec![
        ("mirror_sc_just_works", mirror(0x00, 0x00, &[])),
        (
            "mirror_sc_numeric_comparison",
            mirror(0x05, 0x05, &[0x0D, 0x05]),
        ),
        // KeyboardDisplay initiator shows, KeyboardOnly responder types.
        (
            "mirror_sc_passkey_responder_types",
            mirror(0x06, 0x07, &[0x0C]),
        ),
        // KeyboardOnly initiator types, DisplayYesNo responder shows.
        (
            "mirror_sc_passkey_initiator_types",
            mirror(0x07, 0x05, &[0x04]),
        ),
        ("mirror_legacy_just_works", mirror(0x08, 0x08, &[])),
        ("mirror_legacy_passkey", mirror(0x0E, 0x0F, &[0x0C])),
        ("mirror_legacy_passkey_fixed", mirror(0x0F, 0x1D, &[0x04])),
    ];
    for (name, bytes) in mirrors {
        std::fs::write(format!("{dir}/{name}"), bytes).unwrap();
    }
}
