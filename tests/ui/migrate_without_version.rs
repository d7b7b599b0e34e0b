use rheoflow::checkpoint::StateError;
use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Sum {
    sum: u64,
}

fn migrate(_version: u32, _bytes: &[u8]) -> Result<Sum, StateError> {
    Ok(Sum { sum: 0 })
}

#[processor(migrate = migrate)]
impl Sum {
    fn process(&mut self, item: u64, _ctx: &mut Context<'_, u64>) {
        self.sum += item;
    }
}

fn main() {}
