use rheoflow::processor::{processor, Context};

#[derive(Clone)]
struct Sum {
    sum: u64,
}

#[processor]
impl Sum {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        self.sum += item;
        ctx.emit(self.sum);
    }
}

fn main() {}
