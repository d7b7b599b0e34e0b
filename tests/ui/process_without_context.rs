use rheoflow::processor::processor;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Counter {
    count: u64,
}

#[processor]
impl Counter {
    fn process(&mut self, item: u64) {
        self.count += item;
    }
}

fn main() {}
