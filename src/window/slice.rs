//! One window slice's accumulators per key, in the order the keys first came.
//!
//! A window fires its keys in that order, which depends only on the input, so a flow restored
//! from a checkpoint emits exactly what an uninterrupted one does (a hash map's order depends on
//! its history). The accumulators live in a `Vec` in that order, and a hash table of positions
//! finds a key's entry: adding an item is one probe of the table, whether the key is new or
//! not, and firing a slice walks the `Vec`.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxBuildHasher;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// Accumulators per key in first-seen order; see the [module docs](self).
pub(crate) struct Slice<K, A> {
    entries: Vec<(K, A)>,
    /// Positions in `entries`, by the hash of their key.
    positions: HashTable<usize>,
}

/// A key given to [`Slice::upsert`]: owned, or borrowed and cloned only when it is new.
pub(crate) trait SliceKey<K> {
    /// The key to look up.
    fn key(&self) -> &K;
    /// The key to store.
    fn into_key(self) -> K;
}

impl<K> SliceKey<K> for K {
    #[inline]
    fn key(&self) -> &K {
        self
    }

    #[inline]
    fn into_key(self) -> K {
        self
    }
}

impl<K: Clone> SliceKey<K> for &K {
    #[inline]
    fn key(&self) -> &K {
        self
    }

    #[inline]
    fn into_key(self) -> K {
        self.clone()
    }
}

#[inline]
fn hash_of<K: Hash>(key: &K) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl<K, A> Default for Slice<K, A> {
    fn default() -> Self {
        Slice {
            entries: Vec::new(),
            positions: HashTable::new(),
        }
    }
}

impl<K: Hash + Eq, A> Slice<K, A> {
    /// The accumulator of `key`, if it has one.
    #[inline]
    pub(crate) fn get(&self, key: &K) -> Option<&A> {
        let at = *self
            .positions
            .find(hash_of(key), |&at| self.entries[at].0 == *key)?;
        Some(&self.entries[at].1)
    }

    /// Whether `key` has an accumulator.
    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Updates `key`'s accumulator with `value` through `update`, or adds the one `create` makes
    /// of it (`key` new). A key given by reference is cloned only if it is new.
    #[inline]
    pub(crate) fn upsert<Q: SliceKey<K>, V>(
        &mut self,
        key: Q,
        value: V,
        update: impl FnOnce(&mut A, V),
        create: impl FnOnce(V) -> A,
    ) {
        let entries = &mut self.entries;
        let entry = self.positions.entry(
            hash_of(key.key()),
            |&at| entries[at].0 == *key.key(),
            |&at| hash_of(&entries[at].0),
        );
        match entry {
            Entry::Occupied(found) => update(&mut entries[*found.get()].1, value),
            Entry::Vacant(slot) => {
                slot.insert(entries.len());
                entries.push((key.into_key(), create(value)));
            }
        }
    }

    /// Replaces `key`'s accumulator with `acc`, or adds it (`key` new); a key keeps its place.
    pub(crate) fn insert(&mut self, key: K, acc: A) {
        self.upsert(key, acc, |old, acc| *old = acc, |acc| acc);
    }

    /// The keys and accumulators, in first-seen order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, (K, A)> {
        self.entries.iter()
    }

    /// Takes every key and accumulator out, in first-seen order, keeping the memory for reuse.
    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, (K, A)> {
        self.positions.clear();
        self.entries.drain(..)
    }

    /// Removes everything, keeping the memory for reuse.
    pub(crate) fn clear(&mut self) {
        self.positions.clear();
        self.entries.clear();
    }
}

impl<K: fmt::Debug, A: fmt::Debug> fmt::Debug for Slice<K, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, a)| (k, a)))
            .finish()
    }
}

/// A map of keys to accumulators in first-seen order: the same encoding as the `IndexMap` this
/// replaced, so checkpoints written before read back the same.
impl<K: Serialize, A: Serialize> Serialize for Slice<K, A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(k, a)| (k, a)))
    }
}

impl<'de, K, A> Deserialize<'de> for Slice<K, A>
where
    K: Deserialize<'de> + Hash + Eq,
    A: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SliceVisitor<K, A>(PhantomData<fn() -> (K, A)>);

        impl<'de, K, A> Visitor<'de> for SliceVisitor<K, A>
        where
            K: Deserialize<'de> + Hash + Eq,
            A: Deserialize<'de>,
        {
            type Value = Slice<K, A>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of keys to accumulators")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut slice = Slice::default();
                // A bounded hint: a corrupt length must not allocate without limit.
                slice
                    .entries
                    .reserve(map.size_hint().unwrap_or(0).min(4_096));
                while let Some((key, acc)) = map.next_entry()? {
                    slice.insert(key, acc);
                }
                Ok(slice)
            }
        }

        deserializer.deserialize_map(SliceVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_first_place_and_drain_in_order() {
        let mut slice = Slice::default();
        for (key, value) in [(3u32, 1u64), (1, 1), (3, 1), (2, 1), (1, 1), (3, 1)] {
            slice.upsert(key, value, |acc, value| *acc += value, |value| value);
        }
        assert_eq!(slice.get(&3), Some(&3));
        assert!(slice.contains_key(&2));
        assert!(!slice.contains_key(&4));
        let drained: Vec<_> = slice.drain().collect();
        assert_eq!(drained, [(3, 3), (1, 2), (2, 1)]);
        assert!(slice.get(&3).is_none());
        slice.upsert(5, 7, |_, _| unreachable!("new key"), |value| value);
        assert_eq!(slice.iter().collect::<Vec<_>>(), [&(5, 7)]);
    }

    #[test]
    fn a_borrowed_key_is_stored_only_when_new() {
        let mut slice: Slice<String, u64> = Slice::default();
        let key = String::from("a");
        slice.upsert(&key, 1, |acc, one| *acc += one, |one| one);
        slice.upsert(&key, 1, |acc, one| *acc += one, |one| one);
        assert_eq!(slice.iter().collect::<Vec<_>>(), [&(key, 2)]);
    }

    #[test]
    fn encodes_like_an_index_map_in_insertion_order() {
        let mut slice = Slice::default();
        let mut map: indexmap::IndexMap<u32, u64, FxBuildHasher> = Default::default();
        for key in [9u32, 4, 7, 4, 1000, 9] {
            slice.upsert(key, 1, |acc, one| *acc += one, |one| one);
            *map.entry(key).or_insert(0) += 1;
        }
        let bytes = postcard::to_stdvec(&slice).expect("encodes");
        assert_eq!(bytes, postcard::to_stdvec(&map).expect("encodes"));
        let back: Slice<u32, u64> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            slice.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn grows_past_many_keys() {
        let mut slice = Slice::default();
        for key in 0..10_000u64 {
            slice.upsert(key % 5_000, 1u32, |acc, one| *acc += one, |one| one);
        }
        assert_eq!(slice.iter().len(), 5_000);
        assert!(slice.iter().all(|(_, count)| *count == 2));
        assert_eq!(
            slice.iter().map(|(key, _)| *key).collect::<Vec<_>>(),
            (0..5_000).collect::<Vec<_>>()
        );
    }
}
