//! How long after the last running job finishes does `wait_for_no_running_jobs` return?
//! Prints the measured delays (the drain target is under 2 s). Run: `cargo bench -p gitlab-runner-api`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gitlab_runner_api::{
    CancellationToken, ClientConfig, GitlabClient, PollPolicy, SecretString, WaitOutcome,
    wait_for_no_running_jobs,
};
use gitlab_test_server::{NewJob, NewRunner, TestServer, TokenSpec};
use tokio::time::Instant;

const RUNS: usize = 8;

#[tokio::main]
async fn main() {
    let server = TestServer::start().await.unwrap();
    let admin = server.admin();
    admin
        .add_token(&TokenSpec::admin("admin", "glpat-bench"))
        .await
        .unwrap();
    let client = GitlabClient::new(ClientConfig::new(
        server.url(),
        SecretString::from("glpat-bench"),
    ))
    .unwrap();
    let mut delays = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        let runner = admin.create_runner(&NewRunner::default()).await.unwrap();
        let job = admin
            .start_job(runner.id, &NewJob::running(1, "bench"))
            .await
            .unwrap();
        // Finish the job at a different point of the polling cycle each run.
        let run_for = Duration::from_millis(700 + 173 * run as u64);
        let finisher = {
            let admin = admin.clone();
            tokio::spawn(async move {
                tokio::time::sleep(run_for).await;
                admin.finish_job(job.id).await.unwrap();
                Instant::now()
            })
        };
        let outcome = wait_for_no_running_jobs(
            &client,
            runner.id,
            Instant::now() + Duration::from_secs(30),
            &CancellationToken::new(),
            &PollPolicy::default(),
            |_| {},
        )
        .await
        .unwrap();
        let returned = Instant::now();
        let finished = finisher.await.unwrap();
        assert!(matches!(outcome, WaitOutcome::Idle { .. }));
        delays.push(returned.saturating_duration_since(finished));
    }
    delays.sort();
    let millis: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
    println!(
        "wait_for_no_running_jobs: delay after the last job finished, {RUNS} runs (ms): {millis:?}"
    );
    println!(
        "min {} ms, median {} ms, max {} ms (target: < 2000 ms)",
        millis[0],
        millis[RUNS / 2],
        millis[RUNS - 1]
    );
}
