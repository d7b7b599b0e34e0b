use super::Aggregator;

macro_rules! tuple_aggregator {
    ($($name:ident $idx:tt),+) => {
        /// A tuple of aggregators computes each of them in one pass.
        impl<T, $($name: Aggregator<T>),+> Aggregator<T> for ($($name,)+) {
            type Acc = ($($name::Acc,)+);
            type Output = ($($name::Output,)+);

            #[inline]
            fn create(&self) -> Self::Acc {
                ($(self.$idx.create(),)+)
            }
            #[inline]
            fn add(&self, acc: &mut Self::Acc, item: &T) {
                $(self.$idx.add(&mut acc.$idx, item);)+
            }
            #[inline]
            fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
                $(self.$idx.merge(&mut acc.$idx, &other.$idx);)+
            }
            #[inline]
            fn result(&self, acc: &Self::Acc) -> Self::Output {
                ($(self.$idx.result(&acc.$idx),)+)
            }
        }
    };
}

tuple_aggregator!(A 0);
tuple_aggregator!(A 0, B 1);
tuple_aggregator!(A 0, B 1, C 2);
tuple_aggregator!(A 0, B 1, C 2, D 3);
tuple_aggregator!(A 0, B 1, C 2, D 3, E 4);
tuple_aggregator!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_aggregator!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_aggregator!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
