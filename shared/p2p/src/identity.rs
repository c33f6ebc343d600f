//! Node keys: one per instance, plus the cluster key every instance behind the load balancer
//! shares. A key file holds the secret as 64 hex characters.

use hypasis_rlpx::{NodeId, keys};
use k256::SecretKey;
use std::{io::Write, path::Path};

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Read or write failure.
    #[error("key file {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The content is not a valid key.
    #[error("key file {path}: {reason}; it must hold 64 hex characters (a secp256k1 secret)")]
    Invalid {
        /// File.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Others than the owner may read the secret.
    #[error("key file {path} is readable by group or others (mode {mode:04o}); make it private with `chmod 600 {path}`")]
    Exposed {
        /// File.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

/// Hex characters of a key file's secret.
const KEY_HEX_LEN: usize = 64;

/// Loads the key in `path`, or creates one (mode 0600) when the file does not exist. A key file
/// must hold exactly 64 hex characters (an optional `0x` and surrounding whitespace aside) and,
/// on Unix, be readable by its owner only.
///
/// # Errors
/// [`KeyFileError`] when it cannot be read, parsed or created, or is readable by others.
pub fn load_or_create(path: &Path) -> Result<SecretKey, KeyFileError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let digits = text.trim().trim_start_matches("0x");
            if digits.len() != KEY_HEX_LEN {
                return Err(KeyFileError::Invalid { path: shown, reason: format!("found {} characters", digits.len()) });
            }
            let bytes = hex::decode(digits).map_err(|e| KeyFileError::Invalid { path: shown.clone(), reason: e.to_string() })?;
            let key = SecretKey::from_slice(&bytes)
                .map_err(|_| KeyFileError::Invalid { path: shown.clone(), reason: "not a valid secp256k1 secret".into() })?;
            refuse_exposed(path, &shown)?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = keys::random_secret();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| KeyFileError::Io { path: shown.clone(), source })?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|source| KeyFileError::Io { path: shown.clone(), source })?;
            file.write_all(hex::encode(key.to_bytes()).as_bytes()).map_err(|source| KeyFileError::Io { path: shown, source })?;
            Ok(key)
        }
        Err(source) => Err(KeyFileError::Io { path: shown, source }),
    }
}

/// A key file others may read is refused (Unix permissions).
fn refuse_exposed(path: &Path, shown: &str) -> Result<(), KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|source| KeyFileError::Io { path: shown.to_owned(), source })?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed { path: shown.to_owned(), mode: mode & 0o777 });
        }
    }
    #[cfg(not(unix))]
    let _ = (path, shown);
    Ok(())
}

/// The node id of a key.
pub fn node_id(key: &SecretKey) -> NodeId {
    keys::node_id(&key.public_key())
}

/// `enode://<id>@<host>:<port>`.
pub fn enode_url(key: &SecretKey, host: &str, port: u16) -> String {
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    format!("enode://{}@{host}:{port}", hex::encode(node_id(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reloaded_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/node.key");
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.to_bytes(), again.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("bad.key"), "zz").unwrap();
        assert!(matches!(load_or_create(&dir.path().join("bad.key")), Err(KeyFileError::Invalid { .. })));
        assert!(enode_url(&first, "127.0.0.1", 30303).starts_with("enode://"));
    }

    #[test]
    fn short_and_exposed_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = hex::encode(load_or_create(&path).unwrap().to_bytes());
        // 62 hex characters once decoded to a zero-padded key; now refused by length.
        std::fs::write(&path, &key[2..]).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("found 62 characters") && err.to_string().contains("64 hex characters"), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&path, format!("0x{key}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(load_or_create(&path).is_ok(), "0x prefix and a newline are fine");
            for mode in [0o644, 0o640, 0o666] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
                let err = load_or_create(&path).unwrap_err();
                assert!(matches!(err, KeyFileError::Exposed { .. }), "{mode:o}: {err}");
                assert!(err.to_string().contains("chmod 600"), "{err}");
            }
        }
    }
}
