use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::timer::Timer;
use crate::Message;

pin_project! {
    /// The stream returned by [`Flow::throttle`](crate::Flow::throttle).
    #[must_use = "streams do nothing unless polled"]
    pub struct Throttle<S>
    where
        S: Stream,
    {
        #[pin]
        stream: S,
        // Armed while an item waits for its token.
        timer: Timer,
        bucket: TokenBucket,
        // A data item waiting for a token. Nothing more is taken from upstream meanwhile.
        waiting: Option<S::Item>,
        done: bool,
    }
}

impl<S: Stream> Throttle<S> {
    pub(crate) fn new(stream: S, max_items: usize, per: Duration) -> Self {
        Throttle {
            stream,
            timer: Timer::default(),
            bucket: TokenBucket::new(max_items, per),
            waiting: None,
            done: false,
        }
    }
}

impl<S, T> Stream for Throttle<S>
where
    S: Stream<Item = Message<T>>,
{
    type Item = Message<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message<T>>> {
        let mut this = self.project();
        loop {
            if this.waiting.is_none() {
                if *this.done {
                    return Poll::Ready(None);
                }
                match ready!(this.stream.as_mut().poll_next(cx)) {
                    Some(Message::Data(item)) => *this.waiting = Some(Message::Data(item)),
                    Some(Message::Control(control)) => {
                        // Control messages take no token.
                        *this.done = control.is_terminal();
                        return Poll::Ready(Some(Message::Control(control)));
                    }
                    None => {
                        *this.done = true;
                        return Poll::Ready(None);
                    }
                }
            }
            let now = Instant::now();
            match this.bucket.take(now) {
                Ok(()) => return Poll::Ready(this.waiting.take()),
                Err(wait) => {
                    this.timer.arm(Timer::deadline_after(now, wait));
                    ready!(this.timer.poll_fired(cx));
                    // The token is due: take it on the next turn of the loop.
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let waiting = usize::from(self.waiting.is_some());
        if self.done {
            return (waiting, Some(waiting));
        }
        let (lower, upper) = self.stream.size_hint();
        (
            lower.saturating_add(waiting),
            upper.and_then(|upper| upper.checked_add(waiting)),
        )
    }
}

impl<S> fmt::Debug for Throttle<S>
where
    S: Stream + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("stream", &self.stream)
            .field("bucket", &self.bucket)
            .field("waiting", &self.waiting.is_some())
            .field("done", &self.done)
            .finish()
    }
}

/// A token bucket of `max_items` tokens that refills continuously, `max_items` tokens per `per`.
///
/// Credit is kept in exact integer units: one token is worth `per` in nanoseconds, and every
/// nanosecond that passes adds `max_items` units. The fractional part of a token carries over, so
/// the rate does not drift however `per` divides by `max_items`.
#[derive(Debug)]
struct TokenBucket {
    /// Units per token: `per` in nanoseconds.
    token: u128,
    /// Units added per nanosecond: `max_items`.
    rate: u128,
    /// The most units the bucket holds: `max_items` tokens.
    capacity: u128,
    credit: u128,
    /// When the credit was last brought up to date; `None` until the first item: the bucket
    /// starts full then.
    refilled: Option<Instant>,
}

impl TokenBucket {
    fn new(max_items: usize, per: Duration) -> Self {
        let token = per.as_nanos();
        let rate = max_items as u128;
        let capacity = token.saturating_mul(rate);
        TokenBucket {
            token,
            rate,
            capacity,
            credit: capacity,
            refilled: None,
        }
    }

    /// Takes a token at `now`, or says how long until one is available.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(refilled) = self.refilled {
            let elapsed = now.saturating_duration_since(refilled).as_nanos();
            self.credit = self
                .credit
                .saturating_add(elapsed.saturating_mul(self.rate))
                .min(self.capacity);
        }
        self.refilled = Some(now);
        if self.credit >= self.token {
            self.credit -= self.token;
            return Ok(());
        }
        let missing = self.token - self.credit;
        let nanos = missing.div_ceil(self.rate);
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        // The remainder is below one billion, so it fits in a u32.
        let subsec = (nanos % 1_000_000_000) as u32;
        Err(Duration::new(secs, subsec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_starts_full_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(2, Duration::from_millis(100));
        assert_eq!(bucket.take(start), Ok(()));
        assert_eq!(bucket.take(start), Ok(()));
        assert_eq!(bucket.take(start), Err(Duration::from_millis(50)));
        let later = start + Duration::from_millis(50);
        assert_eq!(bucket.take(later), Ok(()));
        assert_eq!(bucket.take(later), Err(Duration::from_millis(50)));
    }

    #[test]
    fn bucket_never_holds_more_than_max_items() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(3, Duration::from_secs(1));
        assert_eq!(bucket.take(start), Ok(()));
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(bucket.take(later), Ok(()));
        }
        assert!(bucket.take(later).is_err());
    }

    #[test]
    fn fractional_tokens_carry_over() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(3, Duration::from_millis(100));
        for _ in 0..3 {
            assert_eq!(bucket.take(start), Ok(()));
        }
        // One token every 33.33 ms: the wait rounds up, the surplus is kept.
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_nanos(33_333_334));
        let mut now = start;
        for _ in 0..300 {
            now += bucket.take(now).err().unwrap_or_default();
            assert_eq!(bucket.take(now), Ok(()));
        }
        // 300 tokens at 30 per second: ten seconds, to the nanosecond.
        assert_eq!(now - start, Duration::from_secs(10));
    }
}
