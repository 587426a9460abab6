//! A private `redis-server` on a free loopback port, for tests, examples and
//! benchmarks of clustered mode. Nothing persists: no RDB snapshots, no AOF,
//! so a restart comes back empty (as a crashed Redis would).
//!
//! Invariant: the server process is killed when the [`LocalRedis`] is
//! dropped. Its methods block (process start, readiness polling): call them
//! from synchronous code or `spawn_blocking`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable that turns a missing `redis-server` from a skip into
/// a failure (CI sets it).
pub const REQUIRE_REDIS_ENV: &str = "SOP_REQUIRE_REDIS";

/// A running private Redis.
pub struct LocalRedis {
    child: Option<Child>,
    port: u16,
    program: PathBuf,
}

/// Why a [`LocalRedis`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalRedisError {
    /// No `redis-server` on `PATH` (install it: `apt-get install redis-server`).
    #[error(
        "redis-server was not found on PATH (install it, e.g. `apt-get install -y redis-server`)"
    )]
    NotInstalled,
    /// The server did not start or answer `PING`.
    #[error("redis-server on port {port} did not start: {reason}")]
    Start {
        /// The port it was given.
        port: u16,
        /// What went wrong.
        reason: String,
    },
}

fn find_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, LocalRedisError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| LocalRedisError::Start {
            port: 0,
            reason: format!("no free loopback port: {e}"),
        })
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl LocalRedis {
    /// Starts a server on a free port. `Ok(None)` when `redis-server` is not
    /// installed and [`REQUIRE_REDIS_ENV`] is not `1` (the caller skips);
    /// an error when it is required but missing, or fails to start.
    pub fn start_or_skip() -> Result<Option<LocalRedis>, LocalRedisError> {
        match LocalRedis::start() {
            Ok(r) => Ok(Some(r)),
            Err(LocalRedisError::NotInstalled)
                if std::env::var(REQUIRE_REDIS_ENV).as_deref() != Ok("1") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Starts a server on a free port.
    pub fn start() -> Result<LocalRedis, LocalRedisError> {
        let program = find_program().ok_or(LocalRedisError::NotInstalled)?;
        let mut redis = LocalRedis {
            child: None,
            port: free_port()?,
            program,
        };
        redis.spawn()?;
        Ok(redis)
    }

    fn spawn(&mut self) -> Result<(), LocalRedisError> {
        let port = self.port;
        let child = Command::new(&self.program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LocalRedisError::Start {
                port,
                reason: e.to_string(),
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if answers_ping(port) {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(LocalRedisError::Start {
                        port,
                        reason: format!("exited with {status}"),
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(LocalRedisError::Start {
            port,
            reason: "no answer to PING within 10 s".into(),
        })
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL to give [`crate::Mode::Clustered`].
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (SIGKILL: it loses everything, like a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again, empty, on the same port.
    pub fn restart(&mut self) -> Result<(), LocalRedisError> {
        self.kill();
        self.spawn()
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
