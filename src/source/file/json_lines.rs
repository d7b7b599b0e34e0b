//! JSON lines: one JSON value per line, decoded with `serde_json`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::framing::Format;
use crate::error::RecordError;

/// The JSON-lines format of a [`FileSource`](super::FileSource): one JSON value per line, one `T`
/// per value.
///
/// Lines end with `\n` or `\r\n`. An empty line, a line that is not exactly one JSON value of type
/// `T` and invalid UTF-8 are bad records, handed to the source's error policy.
///
/// # Examples
///
/// Name the flow's type to keep it in a struct:
///
/// ```
/// use rheoflow::source::{self, FileSource, JsonLines};
/// use rheoflow::Flow;
///
/// struct Feed {
///     events: Flow<FileSource<tokio::io::Stdin, JsonLines<serde_json::Value>>>,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let feed = Feed { events: source::json_lines(tokio::io::stdin()).into_flow() };
/// # drop(feed);
/// # }
/// ```
pub struct JsonLines<T> {
    _item: PhantomData<fn() -> T>,
}

impl<T> JsonLines<T> {
    pub(super) fn new() -> Self {
        JsonLines { _item: PhantomData }
    }
}

impl<T: DeserializeOwned> Format for JsonLines<T> {
    type Item = T;

    #[inline]
    fn find_end(&mut self, input: &[u8]) -> Option<usize> {
        memchr::memchr(b'\n', input)
    }

    #[inline]
    fn decode(&mut self, record: &[u8]) -> Result<Option<T>, RecordError> {
        serde_json::from_slice(record)
            .map(Some)
            .map_err(RecordError::decode)
    }
}

impl<T> fmt::Debug for JsonLines<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonLines")
    }
}
