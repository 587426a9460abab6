//! Bad input to the public API of every crate: each must be refused with an
//! error that names the thing (store, field, file, model, domain), and
//! nothing of it may be persisted (checked after a reopen). Edge cases that
//! are valid input (empty and huge keys, `k = 0`, empty queries) must be
//! accepted and read back exactly. Prints one JSON line per crate with the
//! number of inputs tried.

mod bad_inputs_cases;

use bad_inputs_cases::Tried;

type Error = Box<dyn std::error::Error>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_crates_refuse_bad_input_and_persist_none_of_it() -> Result<(), Error> {
    let (core, vector, search) = (
        Tried::new("sop-core"),
        Tried::new("sop-vector"),
        Tried::new("sop-search+sop-models"),
    );
    let (a, b, c) = tokio::join!(
        bad_inputs_cases::core::run(&core),
        bad_inputs_cases::vector::run(&vector),
        bad_inputs_cases::search_models::run(&search),
    );
    a?;
    b?;
    c?;
    for t in [core, vector, search] {
        t.report();
    }
    Ok(())
}

#[test]
fn agent_configs_refuse_bad_json_naming_the_field() -> Result<(), Error> {
    let t = Tried::new("sop-agents");
    bad_inputs_cases::agents::run(&t)?;
    t.report();
    Ok(())
}
