//! The storage-backed Doctor with LLMs on the loopback Ollama mock: the Nurse's and the
//! Doctor's chats go to Ollama, the Doctor's prompt is grounded on the retrieved cases, and a
//! dead server leaves the ranked evidence as the answer.

mod common;

use common::{configs, start, TestResult};
use sop_agents::doctor::{AnswerSource, BuildProgress, Doctor};
use sop_agents::setup::{doctor_parts, LlmMode};
use sop_agents::testing::{unreachable_host, MockOllama};
use sop_agents::TranslationSource;

const QUESTION: &str = "I keep throwing up, I have the runs and I'm so thirsty";

#[tokio::test]
async fn llm_answer_is_grounded_on_the_retrieved_cases() -> TestResult {
    let (mut doctor, mut nurse) = configs()?;
    doctor.generator.timeout_ms = Some(5_000);
    nurse.generator.timeout_ms = Some(5_000);
    let mock = MockOllama::start().await?;
    mock.push_chat_answer(r#"["vomiting", "diarrhoea", "dehydration", "sunken eyes"]"#);
    mock.push_chat_answer("Most likely gastroenteritis (see the cited cases).");
    let dir = tempfile::tempdir()?;
    let mode = LlmMode::Ollama {
        host: mock.host().to_string(),
    };
    let parts = doctor_parts(
        &doctor,
        &nurse,
        dir.path().join("doctor"),
        &mode,
        BuildProgress::hidden(),
    )
    .await?;
    let agent = Doctor::start(&doctor, parts).await?;
    let answer = agent.ask(QUESTION).await?;
    assert_eq!(answer.diagnosis.translation.source, TranslationSource::Llm);
    assert_eq!(answer.source, AnswerSource::Llm("ollama:llama3.2".into()));
    assert!(answer.text.contains("gastroenteritis"));
    assert_eq!(
        answer.diagnosis.condition_names().first().copied(),
        Some("Gastroenteritis")
    );

    let chats = mock.requests_to("/api/chat");
    assert_eq!(chats.len(), 2, "one Nurse chat, one Doctor chat");
    let doctor_chat = &chats[1].body;
    assert_eq!(doctor_chat["messages"][0]["content"], doctor.system_prompt);
    let prompt = doctor_chat["messages"][1]["content"]
        .as_str()
        .ok_or("prompt")?;
    assert!(prompt.contains(QUESTION), "{prompt}");
    for condition in &answer.diagnosis.conditions {
        for case in &condition.cases {
            assert!(prompt.contains(&case.id), "prompt cites {}", case.id);
        }
    }
    agent.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_dead_llm_leaves_the_evidence_as_the_answer() -> TestResult {
    let (mut doctor, nurse) = configs()?;
    doctor.generator.timeout_ms = Some(2_000);
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("doctor");
    // Build without LLM, then restart with a generator pointing at a closed port.
    start(&doctor, &nurse, &folder).await?.close().await?;
    let mode = LlmMode::Ollama {
        host: unreachable_host().await?,
    };
    let parts = doctor_parts(&doctor, &nurse, folder, &mode, BuildProgress::hidden()).await?;
    let agent = Doctor::start(&doctor, parts).await?;
    assert!(!agent.start_report().rebuilt);
    let answer = agent.ask(QUESTION).await?;
    assert_eq!(answer.source, AnswerSource::Evidence);
    assert!(answer.fallback_reason.is_some());
    assert!(answer.text.contains("Gastroenteritis"), "{}", answer.text);
    agent.close().await?;
    Ok(())
}
