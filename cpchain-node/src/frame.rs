//! Length-prefixed frames (u32 big-endian length, then the bytes) for every
//! request-response codec of the node, bounded before anything is allocated. A leaf module:
//! the network behaviour and the shard wire both use it ([`crate::network`] re-exports it).

use futures::{AsyncReadExt, AsyncWriteExt};
use std::io;

/// Largest message on either protocol: an LBFT message (1 MiB block + certificate) fits.
pub const MAX_MESSAGE_BYTES: usize = 2 * 1024 * 1024;

pub(crate) async fn read_frame<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
) -> io::Result<Vec<u8>> {
    read_frame_bounded(io, MAX_MESSAGE_BYTES).await
}

/// A length-prefixed frame of at most `max` bytes, refused before allocating when longer.
pub(crate) async fn read_frame_bounded<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

pub(crate) async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    data: &[u8],
) -> io::Result<()> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|&l| l as usize <= MAX_MESSAGE_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(data).await?;
    io.close().await
}
