//! What arrives on the HTTP ports: PROXY protocol headers and JSON-RPC bodies.

use std::net::SocketAddr;

/// A PROXY protocol header (v1 text or v2 binary), as the listeners parse a whole one.
pub(crate) fn proxy_header(data: &[u8]) {
    let peer: SocketAddr = "10.0.0.1:5000".parse().expect("address");
    let _ = hypasis_p2p::proxy::source(data, peer);
}

pub(crate) fn proxy_header_seeds() -> Vec<Vec<u8>> {
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend([0x21, 0x11, 0, 12, 198, 51, 100, 9, 10, 0, 0, 2, 0x9c, 0x40, 0x76, 0x5f]);
    vec![
        b"PROXY TCP4 203.0.113.7 10.0.0.2 41000 30303\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::1 2001:db8::2 41000 30303\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2,
    ]
}

/// A JSON-RPC request body (single or batch), as the endpoint parses it before dispatch.
pub(crate) fn jsonrpc_body(data: &[u8]) {
    let _ = hypasis_rpc::envelope::parse(data);
}

pub(crate) fn jsonrpc_body_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x10",true]}"#.to_vec(),
        br#"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","id":"x","method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"latest","topics":[null]}]}]"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"eth_chainId"}"#.to_vec(),
    ]
}
