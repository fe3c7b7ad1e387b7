//! A minimal HTTP/1.1 keep-alive connection for the load generator: one TCP connection, requests
//! written from pre-built bytes, responses read by `Content-Length` or chunked encoding.
//!
//! The load generator measures the server, so its own cost per request must be small and
//! predictable: no pool, no redirects, no header maps — the same reason wrk exists. Everything
//! else in the client uses `ureq`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest response head (status line and headers) accepted, in bytes.
const HEAD_BYTES_MAX: usize = 64 * 1024;
/// Largest response body accepted, in bytes.
const BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Why a request on the connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Socket error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The response is not HTTP/1.1 as expected.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// Whether the server asked to close the connection.
    pub close: bool,
}

/// Builds a request's bytes.
#[must_use]
pub fn request(method: &str, host: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
    if let Some(body) = body {
        out.extend_from_slice(
            format!(
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// A connection to `addr`, opened lazily (and re-opened after the server closes it).
    #[must_use]
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            timeout,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    fn stream(&mut self) -> Result<&mut TcpStream, WireError> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            self.stream = Some(s);
            self.buf.clear();
        }
        self.stream.as_mut().ok_or(WireError::Closed)
    }

    /// Sends one request (pre-built bytes) and reads its response.
    ///
    /// # Errors
    /// [`WireError`]; the connection is dropped and re-opened on the next call.
    pub fn send(&mut self, request: &[u8]) -> Result<Response, WireError> {
        let result = self.exchange(request);
        match &result {
            Ok(r) if !r.close => {}
            _ => self.stream = None,
        }
        result
    }

    fn exchange(&mut self, request: &[u8]) -> Result<Response, WireError> {
        self.stream()?.write_all(request)?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > HEAD_BYTES_MAX {
                return Err(WireError::Malformed("response head too large"));
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| WireError::Malformed("head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().ok_or(WireError::Malformed("no status line"))?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or(WireError::Malformed("bad status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| WireError::Malformed("bad content-length"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        self.buf.drain(..head_end);
        let body = if chunked {
            self.read_chunked()?
        } else {
            let n = length.unwrap_or(0);
            if n > BODY_BYTES_MAX {
                return Err(WireError::Malformed("body too large"));
            }
            while self.buf.len() < n {
                self.fill()?;
            }
            self.buf.drain(..n).collect()
        };
        Ok(Response {
            status,
            body,
            close,
        })
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, WireError> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                if self.buf.len() > HEAD_BYTES_MAX {
                    return Err(WireError::Malformed("chunk header too large"));
                }
                self.fill()?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end])
                .map_err(|_| WireError::Malformed("chunk size"))?;
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| WireError::Malformed("chunk size"))?;
            if body.len() + size > BODY_BYTES_MAX {
                return Err(WireError::Malformed("body too large"));
            }
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                self.fill()?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    fn fill(&mut self) -> Result<(), WireError> {
        let mut chunk = [0u8; 16 * 1024];
        let stream = self.stream.as_mut().ok_or(WireError::Closed)?;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(WireError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(responses: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            for r in responses {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).unwrap();
                s.write_all(r).unwrap();
            }
        });
        addr
    }

    #[test]
    fn reads_sized_and_chunked_bodies_on_one_connection() {
        let addr = serve_once(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ]);
        let mut c = Connection::new(addr, Duration::from_secs(5));
        let req = request("GET", "x", "/a", None);
        let r = c.send(&req).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = c.send(&req).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        assert!(c.send(&req).is_err(), "the server closed");
    }

    #[test]
    fn requests_carry_length_and_body() {
        let r = request("POST", "h:1", "/p", Some(b"{}"));
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST /p HTTP/1.1\r\nhost: h:1\r\n"));
        assert!(text.ends_with("content-length: 2\r\n\r\n{}"));
    }
}
