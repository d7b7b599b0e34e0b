//! CSV records: a quote-aware record splitter, `csv_core` for the fields, serde by header name.

use std::fmt;
use std::marker::PhantomData;

use ::csv::ByteRecord;
use csv_core::{ReadRecordResult, Terminator};
use serde::de::DeserializeOwned;

use super::framing::Format;
use crate::error::RecordError;

/// The CSV format of a [`FileSource`](super::FileSource): a header row, then one `T` per row.
///
/// Rows deserialize with serde by header name, so `T` is usually a struct whose fields are named
/// after the columns (`#[serde(rename = "..")]` for other names). Fields may be quoted with `"`,
/// and a quoted field may hold delimiters, doubled quotes (`""`) and line breaks. Lines end with
/// `\n` or `\r\n`.
///
/// A row that does not have as many fields as the header, an empty line, a field that does not
/// parse as its type and invalid UTF-8 in a `String` field are bad records, handed to the
/// source's error policy. A missing or bad header fails the source whatever the policy, since no
/// row can be read without it.
///
/// # Examples
///
/// Name the flow's type to keep it in a struct:
///
/// ```
/// use rheoflow::source::{self, Csv, FileSource};
/// use rheoflow::Flow;
///
/// #[derive(serde::Deserialize)]
/// struct Row {
///     city: String,
/// }
///
/// struct Import {
///     rows: Flow<FileSource<&'static [u8], Csv<Row>>>,
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), rheoflow::Error> {
/// let import = Import { rows: source::csv(&b"city\nOslo\n"[..]).into_flow() };
/// let cities = import.rows.map(|row| row.city).collect::<Vec<_>>().await?;
/// assert_eq!(cities, ["Oslo"]);
/// # Ok(())
/// # }
/// ```
pub struct Csv<T> {
    split: Splitter,
    parser: csv_core::Reader,
    /// The unescaped fields of the current record, back to back, and where each one ends.
    fields: Vec<u8>,
    ends: Vec<usize>,
    record: ByteRecord,
    headers: Option<ByteRecord>,
    _item: PhantomData<fn() -> T>,
}

impl<T> Csv<T> {
    /// Creates the format; the caller checks that `delimiter` is not `"`, `\n` or `\r`.
    pub(super) fn new(delimiter: u8) -> Self {
        let parser = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(Terminator::Any(b'\n'))
            .build();
        Csv {
            split: Splitter::new(delimiter),
            parser,
            fields: Vec::new(),
            ends: vec![0; 16],
            record: ByteRecord::new(),
            headers: None,
            _item: PhantomData,
        }
    }

    /// Splits `input`, one complete record without its line terminator, into `self.record`.
    fn parse(&mut self, input: &[u8]) {
        // Fields never hold more bytes than the record.
        if self.fields.len() < input.len() {
            self.fields.resize(input.len(), 0);
        }
        self.parser.reset();
        let (mut nin, mut nout, mut nend) = (0, 0, 0);
        loop {
            let (result, read, written, ended) = self.parser.read_record(
                &input[nin..],
                &mut self.fields[nout..],
                &mut self.ends[nend..],
            );
            nin += read;
            nout += written;
            nend += ended;
            match result {
                // Once the input is used up, an empty input finishes the record.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let len = self.fields.len().max(64);
                    self.fields.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        self.record.clear();
        let mut start = 0;
        for &end in &self.ends[..nend] {
            self.record.push_field(&self.fields[start..end]);
            start = end;
        }
    }
}

impl<T: DeserializeOwned> Format for Csv<T> {
    type Item = T;

    #[inline]
    fn find_end(&mut self, input: &[u8]) -> Option<usize> {
        self.split.find_end(input)
    }

    fn decode(&mut self, record: &[u8]) -> Result<Option<T>, RecordError> {
        self.parse(record);
        let Some(headers) = &self.headers else {
            for field in &self.record {
                std::str::from_utf8(field).map_err(RecordError::decode)?;
            }
            self.headers = Some(self.record.clone());
            return Ok(None);
        };
        if self.record.len() != headers.len() {
            return Err(RecordError::decode(FieldCountError {
                expected: headers.len(),
                found: self.record.len(),
            }));
        }
        self.record
            .deserialize(Some(headers))
            .map(Some)
            .map_err(RecordError::decode)
    }

    fn header_pending(&self) -> bool {
        self.headers.is_none()
    }

    fn restart_record(&mut self) {
        self.split.state = Split::StartField;
    }
}

impl<T> fmt::Debug for Csv<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csv")
            .field("delimiter", &(self.split.delimiter as char))
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A CSV row with a different number of fields than the header: the decode error of such a row.
///
/// # Examples
///
/// ```
/// use rheoflow::source::FieldCountError;
///
/// let err = FieldCountError::new(3, 2);
/// assert_eq!(err.to_string(), "expected 3 fields, found 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} fields, found {found}")]
pub struct FieldCountError {
    expected: usize,
    found: usize,
}

impl FieldCountError {
    /// Creates the error of a row with `found` fields under a header of `expected` fields.
    pub fn new(expected: usize, found: usize) -> Self {
        FieldCountError { expected, found }
    }

    /// The number of fields in the header.
    pub fn expected(&self) -> usize {
        self.expected
    }

    /// The number of fields in the row.
    pub fn found(&self) -> usize {
        self.found
    }
}

/// Where the scan stands in the current record, as in `csv_core`'s parser with `"` quotes,
/// doubled-quote escapes and `\n` as the record terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// At the start of a field: a quote here opens a quoted field.
    StartField,
    /// In an unquoted field: quotes are plain bytes.
    InField,
    /// In a quoted field: delimiters and line breaks are plain bytes.
    InQuoted,
    /// Just after a quote in a quoted field: it closes the field or, doubled, escapes a quote.
    QuoteInQuoted,
}

/// Finds where CSV records end: at the first `\n` outside quotes.
#[derive(Debug, Clone)]
struct Splitter {
    delimiter: u8,
    state: Split,
}

impl Splitter {
    fn new(delimiter: u8) -> Self {
        Splitter {
            delimiter,
            state: Split::StartField,
        }
    }

    fn find_end(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                Split::StartField | Split::QuoteInQuoted => {
                    let byte = input[i];
                    self.state = match (self.state, byte) {
                        (_, b'\n') => return self.end(i),
                        (Split::QuoteInQuoted, b'"') => Split::InQuoted,
                        (Split::StartField, b'"') => Split::InQuoted,
                        (_, byte) if byte == self.delimiter => Split::StartField,
                        _ => Split::InField,
                    };
                    i += 1;
                }
                Split::InField => match memchr::memchr2(b'"', b'\n', &input[i..]) {
                    Some(found) => {
                        let at = i + found;
                        if input[at] == b'\n' {
                            return self.end(at);
                        }
                        // A quote opens a quoted field only right after a delimiter.
                        if at > i && input[at - 1] == self.delimiter {
                            self.state = Split::InQuoted;
                        }
                        i = at + 1;
                    }
                    None => {
                        if input.last() == Some(&self.delimiter) {
                            self.state = Split::StartField;
                        }
                        i = input.len();
                    }
                },
                Split::InQuoted => match memchr::memchr(b'"', &input[i..]) {
                    Some(found) => {
                        self.state = Split::QuoteInQuoted;
                        i += found + 1;
                    }
                    None => i = input.len(),
                },
            }
        }
        None
    }

    fn end(&mut self, at: usize) -> Option<usize> {
        self.state = Split::StartField;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `input` fed in chunks of `chunk` bytes; returns the records with their terminators.
    fn split(input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut splitter = Splitter::new(b',');
        let mut records = Vec::new();
        let mut current = Vec::new();
        for piece in input.chunks(chunk) {
            let mut rest = piece;
            while let Some(end) = splitter.find_end(rest) {
                current.extend_from_slice(&rest[..=end]);
                records.push(std::mem::take(&mut current));
                rest = &rest[end + 1..];
            }
            current.extend_from_slice(rest);
        }
        if !current.is_empty() {
            records.push(current);
        }
        records
    }

    /// The records `csv_core` finds in `input` (which has no empty lines), with their terminators.
    fn reference(input: &[u8]) -> Vec<Vec<u8>> {
        let mut parser = csv_core::ReaderBuilder::new()
            .terminator(Terminator::Any(b'\n'))
            .build();
        let (mut out, mut ends) = (vec![0; input.len() + 1], vec![0; input.len() + 1]);
        let (mut records, mut start, mut at) = (Vec::new(), 0, 0);
        loop {
            let (result, read, _, _) = parser.read_record(&input[at..], &mut out, &mut ends);
            at += read;
            match result {
                ReadRecordResult::Record if at > start => {
                    records.push(input[start..at].to_vec());
                    start = at;
                }
                ReadRecordResult::End => return records,
                _ => {}
            }
        }
    }

    #[test]
    fn splits_like_csv_core_in_any_chunking() {
        let records: [&[u8]; 6] = [
            b"a,b\n",
            b"\"x\ny\",2\n",
            b"q\"u,\"\"\"\n\"\n",
            b",\"z\"\"\",\r\n",
            b"\"open\"x,\"\n,\n\"\"\n\",last\n",
            b"\"unterminated\nlast",
        ];
        let input = &records.concat()[..];
        let expected = reference(input);
        assert_eq!(expected, records);
        for chunk in 1..=input.len() {
            assert_eq!(split(input, chunk), expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn quote_after_delimiter_at_chunk_boundary_opens_a_field() {
        let mut splitter = Splitter::new(b';');
        assert_eq!(splitter.find_end(b"a;"), None);
        assert_eq!(splitter.find_end(b"\"x\ny\"\n"), Some(5));
    }
}
