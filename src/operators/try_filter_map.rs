use std::fmt;

use super::try_map::{Fallible, TryStep};

/// The stream returned by [`Flow::try_filter_map`](crate::Flow::try_filter_map).
pub type TryFilterMap<S, F, T> = Fallible<S, FilterMapStep<F>, T>;

/// The step of [`TryFilterMap`]: at most one output per input.
#[derive(Clone)]
pub struct FilterMapStep<F>(pub(crate) F);

impl<F, T, U, E> TryStep<T> for FilterMapStep<F>
where
    F: FnMut(&T) -> Result<Option<U>, E>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Output = U;
    type Error = E;

    #[inline]
    fn step(&mut self, item: &T) -> Result<Option<U>, E> {
        (self.0)(item)
    }
}

impl<F> fmt::Debug for FilterMapStep<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FilterMapStep")
    }
}
