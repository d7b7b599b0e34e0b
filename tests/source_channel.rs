//! The channel source: backpressure, items given back on failed sends, the end of input once
//! every sender is gone, and many producers on spawned tasks.

mod support;

use std::pin::pin;

use futures::{poll, StreamExt};
use rheoflow::source::{self, SendError, Sender, TrySendError};
use rheoflow::{Control, Message};
use support::{data, end};

#[tokio::test(start_paused = true)]
async fn send_waits_for_room_when_the_channel_is_full() {
    let (sender, flow) = source::channel::<u32>(2).expect("a valid capacity");
    let mut messages = flow.into_messages();
    sender.send(1).await.expect("room");
    sender.send(2).await.expect("room");
    assert!(matches!(sender.try_send(9), Err(TrySendError::Full(9))));

    let mut blocked = pin!(sender.send(3));
    assert!(poll!(blocked.as_mut()).is_pending());
    // Time passing does not help: only the flow taking an item does.
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    assert!(poll!(blocked.as_mut()).is_pending());

    assert_eq!(messages.next().await, Some(data(1)));
    assert!(poll!(blocked.as_mut()).is_ready());
    assert_eq!(messages.next().await, Some(data(2)));
    assert_eq!(messages.next().await, Some(data(3)));
    assert!(
        poll!(messages.next()).is_pending(),
        "a sender is still alive"
    );
}

#[tokio::test(start_paused = true)]
async fn sends_give_the_item_back_once_the_flow_is_dropped() {
    let (sender, flow) = source::channel::<String>(1).expect("a valid capacity");
    sender.send("kept".to_owned()).await.expect("room");
    let mut blocked = pin!(sender.send("waiting".to_owned()));
    assert!(poll!(blocked.as_mut()).is_pending());

    drop(flow);
    assert!(sender.is_closed());
    let err: SendError<String> = blocked.await.expect_err("the flow is gone");
    assert_eq!(err.to_string(), "channel closed");
    assert_eq!(err.into_inner(), "waiting");

    let err = sender
        .send("late".to_owned())
        .await
        .expect_err("the flow is gone");
    assert_eq!(err.get_ref(), "late");
    match sender.try_send("tried".to_owned()) {
        Err(TrySendError::Closed(item)) => assert_eq!(item, "tried"),
        other => panic!("expected a closed channel, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_flow_ends_once_every_sender_is_dropped() {
    let (sender, flow) = source::channel::<u8>(4).expect("a valid capacity");
    let other = sender.clone();
    let mut messages = flow.into_messages();
    sender.send(1).await.expect("room");
    other.send(2).await.expect("room");
    drop(sender);

    assert_eq!(messages.next().await, Some(data(1)));
    assert_eq!(messages.next().await, Some(data(2)));
    assert!(poll!(messages.next()).is_pending(), "one sender is left");

    other.send(3).await.expect("room");
    drop(other);
    let rest: Vec<Message<u8>> = messages.collect().await;
    assert_eq!(rest, [data(3), end()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_on_spawned_tasks_deliver_everything_in_their_order() {
    const PRODUCERS: u32 = 8;
    const EACH: u32 = 2_000;
    let (sender, flow) = source::channel::<(u32, u32)>(16).expect("a valid capacity");
    for producer in 0..PRODUCERS {
        let sender: Sender<_> = sender.clone();
        tokio::spawn(async move {
            for seq in 0..EACH {
                sender.send((producer, seq)).await.expect("the flow runs");
            }
        });
    }
    drop(sender);

    let items = flow
        .collect::<Vec<_>>()
        .await
        .expect("a channel never fails");
    assert_eq!(items.len(), (PRODUCERS * EACH) as usize);
    let mut next = vec![0; PRODUCERS as usize];
    for (producer, seq) in items {
        assert_eq!(
            seq, next[producer as usize],
            "producer {producer} out of order"
        );
        next[producer as usize] += 1;
    }
    assert!(next.iter().all(|&n| n == EACH));
}

#[tokio::test(start_paused = true)]
async fn a_flow_with_no_items_ends_at_once() {
    let (sender, flow) = source::channel::<u8>(1).expect("a valid capacity");
    drop(sender);
    let messages: Vec<_> = flow.into_messages().collect().await;
    assert_eq!(messages, [Message::Control(Control::End)]);
}

#[test]
fn zero_capacity_is_a_config_error() {
    let err = source::channel::<u8>(0).expect_err("zero capacity");
    assert_eq!(err.parameter(), "channel capacity");
}

#[test]
fn channel_types_are_send_sync_and_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    fn clone<T: Clone>() {}
    send_sync_unpin::<Sender<String>>();
    clone::<Sender<String>>();
    send_sync_unpin::<source::ChannelSource<String>>();
    send_sync_unpin::<SendError<String>>();
    send_sync_unpin::<TrySendError<String>>();
}
