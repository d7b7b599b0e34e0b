//! The state a processor operator saves in a checkpoint: the processor's own versioned state,
//! and its pending timers.

use std::collections::BTreeSet;

use super::context::Timers;
use crate::checkpoint::{self, Snapshot, StateError};
use crate::Timestamp;

/// The version of the operator's envelope (not of the processor's state, which has its own).
const ENVELOPE_VERSION: u32 = 1;

/// Encodes the processor's state (with [`checkpoint::encode`]) and the pending timers.
pub(crate) fn encode<P: Snapshot>(processor: &P, timers: &Timers) -> Result<Vec<u8>, StateError> {
    let state = checkpoint::encode(processor)?;
    checkpoint::encode_versioned(
        ENVELOPE_VERSION,
        &(&state, &timers.event, &timers.processing),
    )
}

/// Restores the processor and returns the pending timers. On error the processor is untouched.
pub(crate) fn decode<P: Snapshot>(processor: &mut P, bytes: &[u8]) -> Result<Timers, StateError> {
    type Envelope = (Vec<u8>, BTreeSet<Timestamp>, BTreeSet<Timestamp>);
    let (state, event, processing): Envelope = checkpoint::decode_current(ENVELOPE_VERSION, bytes)?;
    checkpoint::decode(processor, &state)?;
    Ok(Timers { event, processing })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Count(u64);

    impl Snapshot for Count {
        type State = u64;
        const VERSION: u32 = 3;

        fn snapshot(&self) -> u64 {
            self.0
        }

        fn restore(&mut self, state: u64) {
            self.0 = state;
        }
    }

    #[test]
    fn round_trips_state_and_timers() {
        let mut timers = Timers::default();
        timers.event.insert(Timestamp::from_millis(-5));
        timers.processing.insert(Timestamp::from_millis(7));
        let bytes = encode(&Count(42), &timers).unwrap();
        let mut back = Count::default();
        assert_eq!(decode(&mut back, &bytes).unwrap(), timers);
        assert_eq!(back, Count(42));
    }

    #[test]
    fn a_damaged_state_leaves_the_processor_untouched() {
        let bytes = encode(&Count(42), &Timers::default()).unwrap();
        let mut back = Count(1);
        assert!(decode(&mut back, &bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&mut back, &[]).is_err());
        assert_eq!(back, Count(1));
    }
}
