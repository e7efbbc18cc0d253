//! Between async gRPC streams and the blocking `Read`/`Write` the tar code works with.
//! The blocking side runs on the blocking pool; the channels are small and bounded, so a
//! slow client slows the work down instead of filling memory.

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

/// Reads the bytes of a stream of chunks, in order. A chunk source that stops early
/// without saying it finished reads as an unexpected end, which the tar reader reports
/// as a truncated archive.
#[derive(Debug)]
pub struct ChannelReader {
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    current: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Result<Vec<u8>, String>>) -> Self {
        ChannelReader {
            rx,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Some(Err(message)) => return Err(io::Error::other(message)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes into a channel in chunks of `chunk` bytes; `f` wraps each chunk as a message.
pub struct ChannelWriter<T> {
    tx: mpsc::Sender<T>,
    buf: Vec<u8>,
    chunk: usize,
    wrap: fn(Vec<u8>) -> T,
}

impl<T> std::fmt::Debug for ChannelWriter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelWriter")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<T> ChannelWriter<T> {
    pub fn new(tx: mpsc::Sender<T>, chunk: usize, wrap: fn(Vec<u8>) -> T) -> Self {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(chunk),
            chunk,
            wrap,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.tx
            .blocking_send((self.wrap)(data))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))
    }
}

impl<T> Write for ChannelWriter<T> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.chunk - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.chunk {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
