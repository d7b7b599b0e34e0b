use rheoflow::processor::processor;

#[processor]
fn echo<T>(x: T) -> T {
    x
}

fn main() {}
