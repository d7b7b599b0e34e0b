/// A number that [`Sum`](super::Sum) and [`Mean`](super::Mean) can add up.
///
/// Integer sums wrap on overflow only in the sense that they saturate: they never panic.
pub trait Numeric: Copy {
    /// The additive identity.
    const ZERO: Self;
    /// Adds, saturating for integers.
    fn add(self, other: Self) -> Self;
    /// The value as `f64`, for means.
    fn to_f64(self) -> f64;
}

macro_rules! numeric_int {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const ZERO: Self = 0;
            #[inline]
            fn add(self, other: Self) -> Self {
                self.saturating_add(other)
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}

macro_rules! numeric_float {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            const ZERO: Self = 0.0;
            #[inline]
            fn add(self, other: Self) -> Self {
                self + other
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}

numeric_int!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);
numeric_float!(f32, f64);
