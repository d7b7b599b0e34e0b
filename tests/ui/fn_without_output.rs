use rheoflow::processor::processor;

#[processor]
fn log(x: u32) {
    println!("{x}");
}

fn main() {}
