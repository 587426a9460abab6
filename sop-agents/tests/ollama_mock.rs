//! The Ollama-backed parts against the loopback mock server (`sop_agents::testing`):
//! the Nurse's prompt carries the vocabulary, out-of-vocabulary answers are filtered, slow or
//! dead servers trigger the heuristic fallback within the configured timeout, and batch
//! embeddings use one `/api/embed` call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sop_agents::embedder::Embedder;
use sop_agents::error::AgentError;
use sop_agents::generator::{GenerationOptions, Generator};
use sop_agents::nurse::heuristic::HeuristicTranslator;
use sop_agents::nurse::llm::LlmTranslator;
use sop_agents::nurse::vocabulary::Vocabulary;
use sop_agents::nurse::{Nurse, TranslationSource};
use sop_agents::ollama::embedder::OllamaEmbedder;
use sop_agents::ollama::generator::OllamaGenerator;
use sop_agents::testing::{unreachable_host, MockOllama};

const SECOND: Duration = Duration::from_secs(1);

fn vocabulary() -> Vocabulary {
    let json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/medical/nurse_data.json"
    ))
    .expect("nurse_data.json");
    Vocabulary::from_json_items(&json, "nurse_data.json").expect("vocabulary")
}

fn nurse(host: &str, timeout: Duration) -> Nurse {
    let generator = OllamaGenerator::new(host, "mock-chat", 5 * SECOND).expect("generator");
    let options = GenerationOptions {
        temperature: Some(0.0),
        ..GenerationOptions::default()
    };
    let llm = LlmTranslator::new(Arc::new(generator), options, timeout);
    Nurse::with_llm(HeuristicTranslator::new(vocabulary()), llm)
}

#[tokio::test]
async fn nurse_prompt_carries_the_vocabulary_and_oov_terms_are_filtered() {
    let mock = MockOllama::start().await.expect("mock");
    mock.push_chat_answer(r#"["Vomiting", "tummy trouble", "abdominal pain", "cancer"]"#);
    let nurse = nurse(mock.host(), 2 * SECOND);
    let t = nurse
        .translate("my tummy hurts and I keep throwing up")
        .await;
    assert_eq!(t.source, TranslationSource::Llm);
    assert_eq!(t.terms, vec!["vomiting", "abdominal pain"]);

    let chats = mock.requests_to("/api/chat");
    assert_eq!(chats.len(), 1);
    let body = &chats[0].body;
    assert_eq!(body["model"], "mock-chat");
    assert_eq!(body["messages"][0]["role"], "system");
    let system = body["messages"][0]["content"]
        .as_str()
        .expect("system prompt");
    for term in vocabulary().terms() {
        assert!(system.contains(term.as_str()), "prompt lacks {term}");
    }
    let user = body["messages"][1]["content"]
        .as_str()
        .expect("user prompt");
    assert!(user.contains("throwing up"));
    assert_eq!(body["options"]["temperature"], 0.0);
}

#[tokio::test]
async fn answer_outside_the_vocabulary_falls_back_to_the_heuristic() {
    let mock = MockOllama::start().await.expect("mock");
    mock.push_chat_answer(r#"["tummy trouble", "the collywobbles"]"#);
    let t = nurse(mock.host(), 2 * SECOND)
        .translate("my tummy hurts and I keep throwing up")
        .await;
    assert_eq!(t.source, TranslationSource::Heuristic);
    assert_eq!(t.terms, vec!["abdominal pain", "vomiting"]);
    assert!(t
        .fallback_reason
        .expect("reason")
        .contains("no vocabulary term"));
}

#[tokio::test]
async fn slow_server_falls_back_within_the_configured_timeout() {
    let mock = MockOllama::start().await.expect("mock");
    mock.set_delay(10 * SECOND);
    mock.push_chat_answer(r#"["vomiting"]"#);
    let started = Instant::now();
    let t = nurse(mock.host(), Duration::from_millis(300))
        .translate("I keep throwing up")
        .await;
    let elapsed = started.elapsed();
    assert_eq!(t.source, TranslationSource::Heuristic);
    assert_eq!(t.terms, vec!["vomiting"]);
    assert!(t.fallback_reason.expect("reason").contains("timed out"));
    assert!(elapsed < 5 * SECOND, "fallback took {elapsed:?}");
    // The request did reach the server: the timeout, not a connection error, decided.
    assert_eq!(mock.requests_to("/api/chat").len(), 1);
}

#[tokio::test]
async fn dead_server_falls_back_and_the_reason_names_the_host() {
    let host = unreachable_host().await.expect("port");
    let t = nurse(&host, 2 * SECOND).translate("I can't breathe").await;
    assert_eq!(t.source, TranslationSource::Heuristic);
    assert_eq!(t.terms, vec!["breathlessness"]);
    let reason = t.fallback_reason.expect("reason");
    assert!(
        reason.contains(&host) && reason.contains("mock-chat"),
        "{reason}"
    );
}

#[tokio::test]
async fn batch_embeddings_use_one_embed_call() {
    let mock = MockOllama::start().await.expect("mock");
    mock.set_embedding_dims(16);
    let e = OllamaEmbedder::new(mock.host(), "mock-embed", 16, 2 * SECOND).expect("embedder");
    let texts: Vec<String> = ["cough", "fever", "rash"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let vectors = e.embed(&texts).await.expect("embed");
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[1], MockOllama::vector_for("fever", 16));
    let calls = mock.requests_to("/api/embed");
    assert_eq!(calls.len(), 1, "one batch call");
    assert_eq!(calls[0].body["input"].as_array().map(Vec::len), Some(3));
    assert!(mock.requests_to("/api/embeddings").is_empty());
    assert!(e.embed(&[]).await.expect("empty batch").is_empty());
    assert_eq!(
        mock.requests_to("/api/embed").len(),
        1,
        "empty batch sends nothing"
    );
}

#[tokio::test]
async fn probe_learns_dims_and_width_mismatch_is_a_bad_answer() {
    let mock = MockOllama::start().await.expect("mock");
    mock.set_embedding_dims(12);
    let probed = OllamaEmbedder::probe(mock.host(), "mock-embed", 2 * SECOND)
        .await
        .expect("probe");
    assert_eq!(probed.dimensions(), 12);
    let wrong = OllamaEmbedder::new(mock.host(), "mock-embed", 32, 2 * SECOND).expect("embedder");
    match wrong.embed(&["x".to_string()]).await {
        Err(AgentError::BadAnswer { model, host, .. }) => {
            assert_eq!(model, "mock-embed");
            assert_eq!(host, mock.host());
        }
        other => panic!("expected BadAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn generator_chat_generate_tags_and_http_errors() {
    let mock = MockOllama::start().await.expect("mock");
    mock.push_chat_answer("chat answer");
    mock.push_generate_answer("generate answer");
    let g = OllamaGenerator::new(mock.host(), "mock-chat", 2 * SECOND).expect("generator");
    let opts = GenerationOptions::default();
    assert_eq!(
        g.generate("sys", "hi", &opts).await.expect("chat"),
        "chat answer"
    );
    assert_eq!(
        g.complete("sys", "hi", &opts).await.expect("gen"),
        "generate answer"
    );
    let generate = mock.requests_to("/api/generate");
    assert_eq!(generate[0].body["system"], "sys");
    assert_eq!(generate[0].body["prompt"], "hi");
    assert!(g
        .list_models()
        .await
        .expect("tags")
        .contains(&"mock-chat:latest".to_string()));

    mock.set_fail_status(Some(500));
    let err = g.generate("sys", "hi", &opts).await.expect_err("500");
    let text = err.to_string();
    assert!(
        text.contains(mock.host()) && text.contains("mock-chat"),
        "{text}"
    );
}
