use rheoflow::processor::{processor, Context};

struct Echo;

#[processor(state = manual)]
impl Echo {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(item);
    }
}

fn main() {
    let _ = rheoflow::Flow::from_iter([1u64]).process(Echo);
}
