use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Counter {
    count: u64,
}

#[processor]
impl Counter {
    fn close(&mut self, ctx: &mut Context<'_, u64>) {
        ctx.emit(self.count);
    }
}

fn main() {}
