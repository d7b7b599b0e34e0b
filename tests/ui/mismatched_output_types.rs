use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Sum {
    sum: u64,
}

#[processor]
impl Sum {
    fn process(&mut self, item: u64, _ctx: &mut Context<'_, u64>) {
        self.sum += item;
    }

    fn close(&mut self, ctx: &mut Context<'_, String>) {
        ctx.emit(self.sum.to_string());
    }
}

fn main() {}
