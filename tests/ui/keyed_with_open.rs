use rheoflow::keyed::KeyedContext;
use rheoflow::processor::processor;

struct First;

#[processor(keyed)]
impl First {
    fn open(&mut self) {}

    fn process(&mut self, item: (char, u32), ctx: &mut KeyedContext<'_, char, bool, u32>) {
        if !*ctx.state() {
            *ctx.state() = true;
            ctx.emit(item.1);
        }
    }
}

fn main() {}
