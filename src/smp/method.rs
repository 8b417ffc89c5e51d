//! Choosing the pairing method (Core spec Vol 3 Part H 2.3.5.1).
//!
//! A pure function of the two Pairing Request/Response bodies, so both
//! roles reach the same answer from the same octets:
//!
//! 1. LE Secure Connections when both set the SC bit of AuthReq,
//!    otherwise LE legacy pairing.
//! 2. OOB: legacy pairing uses it when *both* have OOB data (table 2.6);
//!    Secure Connections when *either* has (table 2.7).
//! 3. Otherwise, when neither sets MITM, Just Works.
//! 4. Otherwise the IO capabilities decide (table 2.8).

use super::pdu::{AuthReq, IoCapability, PairingParams};

/// Who types the passkey and who shows it (Passkey Entry, 2.3.5.3 and
/// 2.3.5.6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passkey {
    /// The initiator shows the passkey, the responder's user types it.
    InitiatorDisplays,
    /// The responder shows the passkey, the initiator's user types it.
    ResponderDisplays,
    /// Both users type the same passkey (both KeyboardOnly).
    BothInput,
}

/// The pairing method (2.3.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    JustWorks,
    /// Secure Connections only: both show six digits and both users
    /// confirm (2.3.5.6.2).
    NumericComparison,
    PasskeyEntry(Passkey),
    OutOfBand,
}

impl Method {
    /// Whether the key is authenticated (MITM protection): every method
    /// but Just Works (2.3.5.1). A side that asked for MITM and gets Just
    /// Works fails pairing with Authentication Requirements.
    pub fn authenticated(self) -> bool {
        self != Method::JustWorks
    }
}

/// What both sides' parameters select.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// LE Secure Connections (both set AuthReq SC) rather than legacy.
    pub secure_connections: bool,
    pub method: Method,
}

/// The method for a pairing whose Pairing Request carried `initiator` and
/// whose Pairing Response carried `responder`.
pub fn select(initiator: &PairingParams, responder: &PairingParams) -> Selection {
    let sc = initiator.auth_req.contains(AuthReq::SC) && responder.auth_req.contains(AuthReq::SC);
    let oob = if sc {
        initiator.oob_data_present || responder.oob_data_present
    } else {
        initiator.oob_data_present && responder.oob_data_present
    };
    let mitm =
        initiator.auth_req.contains(AuthReq::MITM) || responder.auth_req.contains(AuthReq::MITM);
    let method = if oob {
        Method::OutOfBand
    } else if !mitm {
        Method::JustWorks
    } else {
        io_method(initiator.io_capability, responder.io_capability, sc)
    };
    Selection {
        secure_connections: sc,
        method,
    }
}

/// Table 2.8: the method from the IO capabilities.
fn io_method(initiator: IoCapability, responder: IoCapability, sc: bool) -> Method {
    use IoCapability::*;
    use Method::*;
    use Passkey::*;
    // Where the table splits a cell, legacy pairing has Passkey Entry and
    // Secure Connections Numeric Comparison.
    let compare_or = |legacy: Passkey| {
        if sc {
            NumericComparison
        } else {
            Method::PasskeyEntry(legacy)
        }
    };
    match (initiator, responder) {
        (NoInputNoOutput, _) | (_, NoInputNoOutput) => JustWorks,
        (DisplayOnly | DisplayYesNo, DisplayOnly | DisplayYesNo) => {
            if sc && initiator == DisplayYesNo && responder == DisplayYesNo {
                NumericComparison
            } else {
                JustWorks
            }
        }
        (KeyboardOnly, KeyboardOnly) => Method::PasskeyEntry(BothInput),
        (KeyboardOnly, DisplayOnly | DisplayYesNo | KeyboardDisplay) => {
            Method::PasskeyEntry(ResponderDisplays)
        }
        (DisplayOnly | DisplayYesNo | KeyboardDisplay, KeyboardOnly) => {
            Method::PasskeyEntry(InitiatorDisplays)
        }
        (DisplayOnly, KeyboardDisplay) => Method::PasskeyEntry(InitiatorDisplays),
        (KeyboardDisplay, DisplayOnly) => Method::PasskeyEntry(ResponderDisplays),
        (DisplayYesNo, KeyboardDisplay) => compare_or(InitiatorDisplays),
        (KeyboardDisplay, DisplayYesNo) => compare_or(ResponderDisplays),
        (KeyboardDisplay, KeyboardDisplay) => compare_or(InitiatorDisplays),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smp::pdu::KeyDistribution;
    use IoCapability::*;
    use Method::*;
    use Passkey::*;

    fn params(io: IoCapability, auth_req: AuthReq, oob: bool) -> PairingParams {
        PairingParams {
            io_capability: io,
            oob_data_present: oob,
            auth_req,
            max_key_size: 16,
            initiator_keys: KeyDistribution::empty(),
            responder_keys: KeyDistribution::empty(),
        }
    }

    const ALL: [IoCapability; 5] = [
        DisplayOnly,
        DisplayYesNo,
        KeyboardOnly,
        NoInputNoOutput,
        KeyboardDisplay,
    ];

    /// Table 2.8 cell by cell, rows the initiator, columns the responder in
    /// the order of `ALL`, as (legacy, Secure Connections). Cross-checked
    /// with Bumble's `Session.PAIRING_METHODS` (bumble/smp.py), an
    /// independent transcription of the same table.
    #[test]
    fn table_2_8() {
        const PI: Method = PasskeyEntry(InitiatorDisplays);
        const PR: Method = PasskeyEntry(ResponderDisplays);
        const PB: Method = PasskeyEntry(BothInput);
        const JW: Method = JustWorks;
        const NC: Method = NumericComparison;
        let table: [[(Method, Method); 5]; 5] = [
            // initiator DisplayOnly
            [(JW, JW), (JW, JW), (PI, PI), (JW, JW), (PI, PI)],
            // initiator DisplayYesNo
            [(JW, JW), (JW, NC), (PI, PI), (JW, JW), (PI, NC)],
            // initiator KeyboardOnly
            [(PR, PR), (PR, PR), (PB, PB), (JW, JW), (PR, PR)],
            // initiator NoInputNoOutput
            [(JW, JW), (JW, JW), (JW, JW), (JW, JW), (JW, JW)],
            // initiator KeyboardDisplay
            [(PR, PR), (PR, NC), (PI, PI), (JW, JW), (PI, NC)],
        ];
        let mitm_sc = AuthReq::BONDING | AuthReq::MITM | AuthReq::SC;
        for (i, row) in table.iter().enumerate() {
            for (r, &(legacy, sc)) in row.iter().enumerate() {
                let (ic, rc) = (ALL[i], ALL[r]);
                // MITM on both sides; SC on one side only is legacy.
                let got = select(
                    &params(ic, mitm_sc, false),
                    &params(rc, AuthReq::MITM, false),
                );
                assert_eq!(
                    got,
                    Selection {
                        secure_connections: false,
                        method: legacy
                    },
                    "{ic:?} {rc:?}"
                );
                let got = select(&params(ic, mitm_sc, false), &params(rc, mitm_sc, false));
                assert_eq!(
                    got,
                    Selection {
                        secure_connections: true,
                        method: sc
                    },
                    "{ic:?} {rc:?}"
                );
                // MITM on one side is enough to use the table.
                let got = select(&params(ic, AuthReq::SC, false), &params(rc, mitm_sc, false));
                assert_eq!(got.method, sc);
                // Without MITM on either side: Just Works whatever the IO.
                let got = select(
                    &params(ic, AuthReq::SC, false),
                    &params(rc, AuthReq::SC, false),
                );
                assert_eq!(got.method, JustWorks);
                assert!(!got.method.authenticated());
            }
        }
    }

    /// OOB (tables 2.6 and 2.7): legacy needs both flags, Secure
    /// Connections one; it wins over MITM and the IO capabilities.
    #[test]
    fn out_of_band() {
        let sc = AuthReq::SC | AuthReq::MITM;
        let legacy = AuthReq::MITM;
        let kd = KeyboardDisplay;
        for (auth, io_oob, ir_oob, expect) in [
            (legacy, true, true, OutOfBand),
            (legacy, true, false, PasskeyEntry(InitiatorDisplays)),
            (legacy, false, true, PasskeyEntry(InitiatorDisplays)),
            (sc, true, true, OutOfBand),
            (sc, true, false, OutOfBand),
            (sc, false, true, OutOfBand),
            (sc, false, false, NumericComparison),
        ] {
            let got = select(&params(kd, auth, io_oob), &params(kd, auth, ir_oob));
            assert_eq!(got.method, expect, "{auth:?} {io_oob} {ir_oob}");
            assert!(got.method.authenticated());
        }
        // OOB even without MITM.
        let got = select(
            &params(NoInputNoOutput, AuthReq::SC, true),
            &params(NoInputNoOutput, AuthReq::SC, false),
        );
        assert_eq!(got.method, OutOfBand);
    }
}
