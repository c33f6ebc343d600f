//! Our initiator against our recipient over an in-memory duplex pipe, then frames both ways.

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use hypasis_rlpx::{FrameCodec, RlpxError, accept, codec::DEFAULT_MAX_INGRESS_FRAME, initiate, keys};
use tokio::io::{AsyncWriteExt, duplex};
use tokio_util::codec::{Encoder, Framed};

#[tokio::test]
async fn handshake_to_either_key_then_frames_both_ways() {
    let cluster = keys::random_secret();
    let instance = keys::random_secret();
    let client = keys::random_secret();
    for (target, expected_index) in [(&cluster, 0), (&instance, 1)] {
        let (mut a, mut b) = duplex(4 << 20);
        let server_keys = vec![cluster.clone(), instance.clone()];
        let server = tokio::spawn(async move {
            let (secrets, index) = accept(&mut b, &server_keys).await.expect("accept");
            (secrets, index, b)
        });
        let client_secrets = initiate(&mut a, &client, keys::node_id(&target.public_key())).await.expect("initiate");
        let (server_secrets, index, b) = server.await.expect("join");
        assert_eq!(index, expected_index);
        assert_eq!(server_secrets.remote_id, keys::node_id(&client.public_key()));
        assert_eq!(server_secrets.aes_secret, client_secrets.aes_secret);

        let mut client = Framed::new(a, FrameCodec::new(client_secrets, DEFAULT_MAX_INGRESS_FRAME));
        let mut server = Framed::new(b, FrameCodec::new(server_secrets, DEFAULT_MAX_INGRESS_FRAME));
        let big = Bytes::from((0..1_000_000u32).map(|i| i as u8).collect::<Vec<_>>());
        for payload in [Bytes::from_static(b"\x80hello"), Bytes::new(), Bytes::from_static(&[7; 16]), big.clone()] {
            client.send(payload.clone()).await.expect("send");
            assert_eq!(server.next().await.expect("frame").expect("valid"), payload);
            server.send(payload.clone()).await.expect("send back");
            assert_eq!(client.next().await.expect("frame").expect("valid"), payload);
        }
    }
}

#[tokio::test]
async fn an_auth_for_another_key_is_refused() {
    let (mut a, mut b) = duplex(8 * 1024);
    let ours = vec![keys::random_secret()];
    let server = tokio::spawn(async move { accept(&mut b, &ours).await.map(|_| ()) });
    let stranger = keys::random_secret();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        initiate(&mut a, &keys::random_secret(), keys::node_id(&stranger.public_key())),
    )
    .await;
    let err = server.await.expect("join").expect_err("must refuse");
    assert!(matches!(err, RlpxError::Ecies(_)), "{err}");
}

#[tokio::test]
async fn garbage_and_oversized_handshakes_are_errors() {
    let ours = vec![keys::random_secret()];
    let (mut a, mut b) = duplex(8 * 1024);
    a.write_all(&[0xff, 0xff, 1, 2, 3]).await.expect("write");
    let err = accept(&mut b, &ours).await.expect_err("oversized");
    assert!(matches!(err, RlpxError::HandshakeTooLarge(65_535)), "{err}");

    let (mut a, mut b) = duplex(8 * 1024);
    a.write_all(&[0x01, 0x00]).await.expect("write");
    a.write_all(&[0u8; 256]).await.expect("write");
    let err = accept(&mut b, &ours).await.expect_err("garbage");
    assert!(matches!(err, RlpxError::Ecies(_)), "{err}");
}

type Server = Framed<tokio::io::DuplexStream, FrameCodec>;

/// A server-side framed stream and the client's codec plus raw socket, to forge frames.
async fn connected_pair(max_ingress: usize) -> (Server, FrameCodec, tokio::io::DuplexStream) {
    let server_key = keys::random_secret();
    let (mut a, mut b) = duplex(1 << 20);
    let keys_for_server = vec![server_key.clone()];
    let server = tokio::spawn(async move { accept(&mut b, &keys_for_server).await.map(|(s, _)| (s, b)) });
    let client_secrets = initiate(&mut a, &keys::random_secret(), keys::node_id(&server_key.public_key())).await.expect("initiate");
    let (server_secrets, b) = server.await.expect("join").expect("accept");
    (Framed::new(b, FrameCodec::new(server_secrets, max_ingress)), FrameCodec::new(client_secrets, DEFAULT_MAX_INGRESS_FRAME), a)
}

#[tokio::test]
async fn a_flipped_bit_in_the_body_fails_the_frame_mac() {
    let (mut server, mut codec, mut raw) = connected_pair(DEFAULT_MAX_INGRESS_FRAME).await;
    let mut wire = BytesMut::new();
    codec.encode(Bytes::from_static(b"a perfectly fine message"), &mut wire).expect("encode");
    wire[40] ^= 0x01;
    raw.write_all(&wire).await.expect("write");
    let err = server.next().await.expect("item").expect_err("bad mac");
    assert!(matches!(err, RlpxError::BadMac("body")), "{err}");
}

#[tokio::test]
async fn a_flipped_bit_in_the_header_fails_the_header_mac() {
    let (mut server, mut codec, mut raw) = connected_pair(DEFAULT_MAX_INGRESS_FRAME).await;
    let mut wire = BytesMut::new();
    codec.encode(Bytes::from_static(b"hello"), &mut wire).expect("encode");
    wire[0] ^= 0x80;
    raw.write_all(&wire).await.expect("write");
    let err = server.next().await.expect("item").expect_err("bad mac");
    assert!(matches!(err, RlpxError::BadMac("header")), "{err}");
}

#[tokio::test]
async fn an_oversized_frame_is_refused_before_its_body_arrives() {
    let (mut server, mut codec, mut raw) = connected_pair(1024).await;
    let mut wire = BytesMut::new();
    codec.encode(Bytes::from(vec![1u8; 2048]), &mut wire).expect("encode");
    raw.write_all(&wire[..32]).await.expect("write header only");
    let err = server.next().await.expect("item").expect_err("too large");
    assert!(matches!(err, RlpxError::FrameTooLarge { size: 2048, max: 1024 }), "{err}");
}
