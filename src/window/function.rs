//! What a window computes: an [`Aggregator`], a reduce function, or a function over all items.

use std::fmt;

use super::state::WindowFn;
use crate::aggregate::Aggregator;

/// Runs an [`Aggregator`] per window and key.
#[derive(Debug, Clone)]
pub struct Aggregate<A>(pub(crate) A);

impl<K, W, T, A: Aggregator<T>> WindowFn<K, W, T> for Aggregate<A> {
    type Acc = A::Acc;
    type Output = A::Output;

    #[inline]
    fn create(&self) -> A::Acc {
        self.0.create()
    }
    #[inline]
    fn add(&self, acc: &mut A::Acc, item: T) {
        self.0.add(acc, &item);
    }
    #[inline]
    fn merge(&self, acc: &mut A::Acc, other: &A::Acc) {
        self.0.merge(acc, other);
    }
    #[inline]
    fn result(&self, _key: &K, _window: &W, acc: &A::Acc) -> A::Output {
        self.0.result(acc)
    }
}

/// Combines the items of a window and key pairwise with a function.
#[derive(Clone)]
pub struct Reduce<F>(pub(crate) F);

impl<K, W, T: Clone, F: Fn(T, T) -> T> WindowFn<K, W, T> for Reduce<F> {
    type Acc = Option<T>;
    type Output = T;

    fn create(&self) -> Option<T> {
        None
    }
    #[inline]
    fn add(&self, acc: &mut Option<T>, item: T) {
        self.combine(acc, item);
    }
    fn merge(&self, acc: &mut Option<T>, other: &Option<T>) {
        if let Some(other) = other {
            self.combine(acc, other.clone());
        }
    }
    fn merge_owned(&self, acc: &mut Option<T>, other: Option<T>) {
        if let Some(other) = other {
            self.combine(acc, other);
        }
    }
    fn result(&self, _key: &K, _window: &W, acc: &Option<T>) -> T {
        match acc {
            Some(value) => value.clone(),
            // A window fires only once it holds an item.
            None => unreachable!("a window fired without items"),
        }
    }
}

impl<F> Reduce<F> {
    #[inline]
    fn combine<T>(&self, acc: &mut Option<T>, item: T)
    where
        F: Fn(T, T) -> T,
    {
        *acc = Some(match acc.take() {
            Some(current) => (self.0)(current, item),
            None => item,
        });
    }
}

/// Keeps the items of a window and key and computes the result from all of them when it fires.
#[derive(Clone)]
pub struct Process<F>(pub(crate) F);

impl<K, W, T: Clone, O, F: Fn(&K, &W, &[T]) -> O> WindowFn<K, W, T> for Process<F> {
    type Acc = Vec<T>;
    type Output = O;

    fn create(&self) -> Vec<T> {
        Vec::new()
    }
    #[inline]
    fn add(&self, acc: &mut Vec<T>, item: T) {
        acc.push(item);
    }
    fn merge(&self, acc: &mut Vec<T>, other: &Vec<T>) {
        acc.extend_from_slice(other);
    }
    fn merge_owned(&self, acc: &mut Vec<T>, mut other: Vec<T>) {
        acc.append(&mut other);
    }
    fn result(&self, key: &K, window: &W, acc: &Vec<T>) -> O {
        (self.0)(key, window, acc)
    }
}

/// Folds the items of a window and key, in order, from an initial value when it fires.
#[derive(Clone)]
pub struct Fold<I, F> {
    pub(crate) initial: I,
    pub(crate) f: F,
}

impl<K, W, T: Clone, I: Clone, F: Fn(I, &T) -> I> WindowFn<K, W, T> for Fold<I, F> {
    type Acc = Vec<T>;
    type Output = I;

    fn create(&self) -> Vec<T> {
        Vec::new()
    }
    #[inline]
    fn add(&self, acc: &mut Vec<T>, item: T) {
        acc.push(item);
    }
    fn merge(&self, acc: &mut Vec<T>, other: &Vec<T>) {
        acc.extend_from_slice(other);
    }
    fn merge_owned(&self, acc: &mut Vec<T>, mut other: Vec<T>) {
        acc.append(&mut other);
    }
    fn result(&self, _key: &K, _window: &W, acc: &Vec<T>) -> I {
        acc.iter().fold(self.initial.clone(), &self.f)
    }
}

impl<F> fmt::Debug for Reduce<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reduce")
    }
}

impl<F> fmt::Debug for Process<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Process")
    }
}

impl<I, F> fmt::Debug for Fold<I, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fold")
    }
}
