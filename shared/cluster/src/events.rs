//! Cluster events on Redis pub/sub: whoever makes a change publishes it, every instance hears it
//! at once (followers announce a new head to their own peers without waiting for a poll).
//!
//! Channel `hs:v1:c<chain>:events`, one JSON [`Envelope`] per message. Pub/sub is fire and
//! forget: a message published while an instance is disconnected is lost to it, so every
//! consumer also reads the authoritative keys (the head, the held ranges) on a slower timer.

use crate::{Member, RedisTarget};
use fred::{
    clients::SubscriberClient,
    prelude::{Builder, Client, ClientLike, Error as FredError, EventInterface, PubsubInterface},
    types::config::ReconnectPolicy,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Something that happened in the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The served head moved.
    Head {
        /// Block number.
        number: u64,
        /// Block hash, 0x-hex.
        hash: String,
    },
    /// A checkpoint was verified.
    Checkpoint {
        /// Checkpoint number.
        number: u64,
        /// First block it covers.
        start: u64,
        /// Last block it covers.
        end: u64,
    },
    /// A block range was filled (backward sync).
    RangeFilled {
        /// First block.
        start: u64,
        /// Last block.
        end: u64,
    },
    /// A membership heartbeat.
    Heartbeat(Member),
    /// The leader stopped and released its lease: followers try to take it now.
    LeaderReleased {
        /// The fencing token of the term that ended.
        token: u64,
    },
    /// The operators registry was written ([`crate::OperatorsStore`]): re-read it.
    Operators {
        /// The version written.
        version: u64,
    },
}

/// An event and who sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Instance id of the publisher.
    pub from: String,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// Publishes and receives cluster events.
#[derive(Debug, Clone)]
pub struct Events {
    publisher: Client,
    channel: String,
    instance_id: String,
    received: broadcast::Sender<Envelope>,
}

/// Received events kept for slow consumers before the oldest are skipped.
const BUFFER: usize = 1024;

impl Events {
    /// Subscribes to the chain's channel on a dedicated connection (re-subscribed after every
    /// reconnect) and publishes through `publisher`. Received events are forwarded until `cancel`.
    ///
    /// # Errors
    /// When the subscriber connection cannot be made.
    pub async fn start(
        target: &RedisTarget,
        publisher: Client,
        chain_id: u64,
        instance_id: String,
        cancel: CancellationToken,
    ) -> Result<Self, FredError> {
        let config = target.fred_config().map_err(|e| crate::config_error(e.to_string()))?;
        let subscriber: SubscriberClient =
            Builder::from_config(config).set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2)).build_subscriber_client()?;
        subscriber.init().await?;
        let resubscribe = subscriber.manage_subscriptions();
        let channel = format!("hs:v1:c{chain_id}:events");
        subscriber.subscribe(channel.as_str()).await?;
        let (received, _) = broadcast::channel(BUFFER);
        let forward = received.clone();
        let mut messages = subscriber.message_rx();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    () = cancel.cancelled() => break,
                    message = messages.recv() => message,
                };
                match message {
                    Ok(message) => match message.value.as_str().map(|s| serde_json::from_str::<Envelope>(&s)) {
                        Some(Ok(envelope)) => {
                            metrics::counter!("hypasis_cluster_events_received_total").increment(1);
                            let _ = forward.send(envelope);
                        }
                        _ => metrics::counter!("hypasis_cluster_events_malformed_total").increment(1),
                    },
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        metrics::counter!("hypasis_cluster_events_lagged_total").increment(n);
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            resubscribe.abort();
            let _ = subscriber.quit().await;
        });
        Ok(Self { publisher, channel, instance_id, received })
    }

    /// Publishes `event`; returns how many instances received it.
    ///
    /// # Errors
    /// When Redis cannot be reached (the event is then lost; consumers also poll).
    pub async fn publish(&self, event: Event) -> Result<u64, FredError> {
        let json = serde_json::to_string(&Envelope { from: self.instance_id.clone(), event }).expect("events serialise");
        let receivers: u64 = self.publisher.publish(self.channel.as_str(), json).await?;
        metrics::counter!("hypasis_cluster_events_published_total").increment(1);
        Ok(receivers)
    }

    /// A receiver of the events heard from now on (our own included).
    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.received.subscribe()
    }
}
