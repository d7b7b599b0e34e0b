use rheoflow::processor::processor;

#[processor]
struct Sum {
    sum: u64,
}

fn main() {}
