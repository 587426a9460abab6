//! `MockOllama`: a loopback HTTP/1.1 server speaking enough of Ollama's API for tests.
//!
//! Endpoints: `POST /api/chat`, `POST /api/generate` (scripted answers, FIFO, then a default),
//! `POST /api/embed` (batch) and `POST /api/embeddings` (legacy, single) returning
//! deterministic vectors, `GET /api/tags` (configured model names). Every request is recorded
//! (method, path, JSON body) before the configured delay is slept, so tests can assert on what
//! was sent even when the client timed out. Invariants: binds 127.0.0.1 only; the server task
//! stops when the `MockOllama` is dropped; request parsing never panics on bad input.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::text::fnv1a;

/// One request the mock received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method (`GET`, `POST`).
    pub method: String,
    /// Request path (e.g. `/api/chat`).
    pub path: String,
    /// Parsed JSON body (`Value::Null` when empty or not JSON).
    pub body: Value,
}

#[derive(Debug)]
struct State {
    chat_answers: VecDeque<String>,
    default_chat: String,
    generate_answers: VecDeque<String>,
    default_generate: String,
    embedding_dims: usize,
    models: Vec<String>,
    delay: Duration,
    fail_status: Option<u16>,
    requests: Vec<RecordedRequest>,
}

/// A running mock Ollama server (see module docs).
#[derive(Debug)]
pub struct MockOllama {
    host: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A host URL on which nothing listens (a port bound then released): calls fail fast.
pub async fn unreachable_host() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

impl MockOllama {
    /// Starts a mock on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let host = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            chat_answers: VecDeque::new(),
            default_chat: String::new(),
            generate_answers: VecDeque::new(),
            default_generate: String::new(),
            embedding_dims: 8,
            models: vec!["mock-chat:latest".into(), "mock-embed:latest".into()],
            delay: Duration::ZERO,
            fail_status: None,
            requests: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = Arc::clone(&shared);
                tokio::spawn(async move {
                    // A broken client connection only ends that connection.
                    let _ = serve_connection(stream, st).await;
                });
            }
        });
        Ok(Self { host, state, task })
    }

    /// The base URL (e.g. `http://127.0.0.1:40123`), usable as `OLLAMA_HOST`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Queues an answer for the next `/api/chat` call.
    pub fn push_chat_answer(&self, answer: impl Into<String>) {
        lock(&self.state).chat_answers.push_back(answer.into());
    }

    /// The `/api/chat` answer once the queue is empty (default: empty string).
    pub fn set_default_chat_answer(&self, answer: impl Into<String>) {
        lock(&self.state).default_chat = answer.into();
    }

    /// Queues an answer for the next `/api/generate` call.
    pub fn push_generate_answer(&self, answer: impl Into<String>) {
        lock(&self.state).generate_answers.push_back(answer.into());
    }

    /// The `/api/generate` answer once the queue is empty (default: empty string).
    pub fn set_default_generate_answer(&self, answer: impl Into<String>) {
        lock(&self.state).default_generate = answer.into();
    }

    /// Width of the vectors `/api/embed` and `/api/embeddings` return (default 8).
    pub fn set_embedding_dims(&self, dims: usize) {
        lock(&self.state).embedding_dims = dims;
    }

    /// Model names `/api/tags` lists.
    pub fn set_models(&self, models: Vec<String>) {
        lock(&self.state).models = models;
    }

    /// Delay before every answer (after the request is recorded).
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// Makes every endpoint answer this HTTP status with an `{"error": ...}` body.
    pub fn set_fail_status(&self, status: Option<u16>) {
        lock(&self.state).fail_status = status;
    }

    /// All requests received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Requests received on `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// The deterministic vector the mock returns for `text` at width `dims` (unit norm).
    pub fn vector_for(text: &str, dims: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dims)
            .map(|i| {
                let h = fnv1a(format!("{i}:{text}").as_bytes());
                (h % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

impl Drop for MockOllama {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
    close: bool,
}

/// Reads one HTTP/1.1 request; `Ok(None)` on a clean EOF.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let mut length = 0usize;
    let mut close = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                length = v.trim().parse().unwrap_or(0);
            } else if k == "connection" && v.trim().eq_ignore_ascii_case("close") {
                close = true;
            }
        }
    }
    while buf.len() < header_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..header_end + length].to_vec();
    buf.drain(..header_end + length);
    Ok(Some(Request {
        method,
        path,
        body,
        close,
    }))
}

async fn serve_connection(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut stream, &mut buf).await? {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let delay = {
            let mut st = lock(&state);
            st.requests.push(RecordedRequest {
                method: req.method.clone(),
                path: req.path.clone(),
                body: body.clone(),
            });
            st.delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (status, answer) = respond(&state, &req.method, &req.path, &body);
        let payload = answer.to_string();
        let reason = if status == 200 { "OK" } else { "Error" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            payload.len(),
            if req.close { "close" } else { "keep-alive" }
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(payload.as_bytes()).await?;
        stream.flush().await?;
        if req.close {
            break;
        }
    }
    Ok(())
}

fn respond(state: &Mutex<State>, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut st = lock(state);
    if let Some(status) = st.fail_status {
        return (status, json!({ "error": "scripted failure" }));
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock")
        .to_string();
    let created_at = "2024-01-01T00:00:00Z";
    match (method, path) {
        ("POST", "/api/chat") => {
            let content = st
                .chat_answers
                .pop_front()
                .unwrap_or_else(|| st.default_chat.clone());
            (
                200,
                json!({
                    "model": model, "created_at": created_at,
                    "message": { "role": "assistant", "content": content },
                    "done": true, "done_reason": "stop"
                }),
            )
        }
        ("POST", "/api/generate") => {
            let response = st
                .generate_answers
                .pop_front()
                .unwrap_or_else(|| st.default_generate.clone());
            (
                200,
                json!({ "model": model, "created_at": created_at, "response": response, "done": true }),
            )
        }
        ("POST", "/api/embed") => {
            let inputs: Vec<String> = match body.get("input") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().unwrap_or("").to_string())
                    .collect(),
                _ => Vec::new(),
            };
            let dims = st.embedding_dims;
            let embeddings: Vec<Vec<f32>> = inputs
                .iter()
                .map(|t| MockOllama::vector_for(t, dims))
                .collect();
            (200, json!({ "model": model, "embeddings": embeddings }))
        }
        ("POST", "/api/embeddings") => {
            let prompt = body.get("prompt").and_then(Value::as_str).unwrap_or("");
            let embedding = MockOllama::vector_for(prompt, st.embedding_dims);
            (200, json!({ "embedding": embedding }))
        }
        ("GET", "/api/tags") => {
            let models: Vec<Value> = st
                .models
                .iter()
                .map(|m| json!({ "name": m, "model": m, "modified_at": created_at, "size": 1 }))
                .collect();
            (200, json!({ "models": models }))
        }
        _ => (404, json!({ "error": format!("no route {method} {path}") })),
    }
}
