//! The RLPx handshake's cost, and the curve arithmetic it is made of, on libsecp256k1 (what the
//! handshake uses) against k256 (pure Rust, what it used before), in one run:
//!
//! ```sh
//! cargo bench -p hypasis-rlpx --bench handshake
//! ```
//!
//! Whole handshakes are an initiator and a recipient completing auth/ack over an in-memory pipe
//! on one thread (both sides' work, as a node and its peer on one machine).

use hypasis_rlpx::keys;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use std::time::{Duration, Instant};

const ROUNDS: u32 = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (a, b) = (keys::random_secret(), keys::random_secret());
    let b_public = b.public_key();

    let k256_ecdh = time(|| {
        std::hint::black_box(k256::ecdh::diffie_hellman(a.to_nonzero_scalar(), b_public.as_affine()));
    });
    let secp_ecdh = time(|| {
        std::hint::black_box(keys::ecdh(&a, &b_public));
    });

    let message = [7u8; 32];
    let (signature, recovery): (Signature, RecoveryId) = SigningKey::from(&a).sign_prehash_recoverable(&message).expect("sign");
    let k256_recover = time(|| {
        std::hint::black_box(VerifyingKey::recover_from_prehash(&message, &signature, recovery).expect("recover"));
    });
    let secp = secp256k1::Secp256k1::new();
    let secp_key = secp256k1::SecretKey::from_byte_array(a.to_bytes().into()).expect("key");
    let secp_signature = secp.sign_ecdsa_recoverable(secp256k1::Message::from_digest(message), &secp_key);
    let secp_recover = time(|| {
        std::hint::black_box(secp.recover_ecdsa(secp256k1::Message::from_digest(message), &secp_signature).expect("recover"));
    });

    let handshakes = time(|| {
        runtime.block_on(async {
            let (mut x, mut y) = tokio::io::duplex(1 << 16);
            let recipient = vec![b.clone()];
            let accept = hypasis_rlpx::accept(&mut y, &recipient);
            let initiate = hypasis_rlpx::initiate(&mut x, &a, keys::node_id(&b_public));
            let (accepted, initiated) = tokio::join!(accept, initiate);
            std::hint::black_box((accepted.expect("accept"), initiated.expect("initiate")));
        });
    });

    println!("{ROUNDS} rounds each, one thread");
    row("ECDH, k256", k256_ecdh);
    row("ECDH, libsecp256k1", secp_ecdh);
    println!("  ratio k256 / libsecp256k1: {:.2}", k256_ecdh.as_secs_f64() / secp_ecdh.as_secs_f64());
    row("public key recovery, k256", k256_recover);
    row("public key recovery, libsecp256k1", secp_recover);
    println!("  ratio k256 / libsecp256k1: {:.2}", k256_recover.as_secs_f64() / secp_recover.as_secs_f64());
    row("whole handshake (both sides)", handshakes);
}

fn time(mut f: impl FnMut()) -> Duration {
    f();
    let started = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    started.elapsed()
}

fn row(what: &str, took: Duration) {
    let each = took.as_secs_f64() / f64::from(ROUNDS);
    println!("{what:<36} {:>9.1} µs each {:>10.0} per second", each * 1e6, 1.0 / each);
}
