//! Each replica `LISTEN`s on [`crate::models::MODEL_CHANNEL`] on a connection of its own and
//! hears of a promotion as soon as it commits. A notification sent while the connection was
//! down is lost, so the replica re-reads the alias on every (re)connection, and every `poll`
//! besides: a replica cannot stay behind for longer than that.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::poll_fn;
use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::models::MODEL_CHANNEL;
use crate::PgStore;

/// What a replica does when the alias may have changed: re-read it and serve it. Runs on a
/// blocking thread; it must be idempotent (it is called on every reconnection and poll).
pub type AliasCheck = Arc<dyn Fn(&'static str) + Send + Sync>;

/// The listening task; it stops when this is dropped.
#[derive(Debug)]
pub struct ModelWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ModelWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Wait before reconnecting, doubled up to the poll interval.
const FIRST_RETRY: Duration = Duration::from_millis(250);

impl PgStore {
    /// Starts listening for promotions; `check` runs after each notification, after each
    /// (re)connection and every `poll`.
    pub fn watch_models(&self, check: AliasCheck, poll: Duration) -> ModelWatch {
        let config = self.config();
        let task = self.handle().spawn(async move {
            let mut retry = FIRST_RETRY;
            loop {
                match listen(&config, &check, poll).await {
                    Ok(()) => retry = FIRST_RETRY,
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for promotions failed; retrying");
                    }
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(poll.max(FIRST_RETRY));
                run_check(&check, "reconnect").await;
            }
        });
        ModelWatch { task }
    }
}

/// One listening session: returns when the connection ends.
async fn listen(
    config: &tokio_postgres::Config,
    check: &AliasCheck,
    poll: Duration,
) -> Result<(), crate::PgError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the promotion listener's connection failed");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {MODEL_CHANNEL}"))
        .await?;
    // Whatever was promoted while this replica was not listening.
    run_check(check, "connect").await;
    let mut tick = tokio::time::interval(poll);
    tick.tick().await;
    loop {
        tokio::select! {
            payload = rx.recv() => match payload {
                Some(version) => {
                    tracing::debug!(version, "promotion announced");
                    run_check(check, "notification").await;
                }
                None => break,
            },
            _ = tick.tick() => run_check(check, "poll").await,
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

async fn run_check(check: &AliasCheck, why: &'static str) {
    let check = Arc::clone(check);
    let _ = tokio::task::spawn_blocking(move || check(why)).await;
}
