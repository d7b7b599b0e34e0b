//! Writes the trait impls of a checked processor model.
//!
//! Everything generated names its items by absolute path (`::core::…`, the `rheoflow` crate's
//! path), so that user types named `Option`, `Result` or `u32` do not change its meaning. The
//! user's item is emitted unchanged; the generated impls call its methods.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::options::{Options, StateMode};
use crate::parse::{self, FnModel, FnOutput, HookKind, ImplModel, Model};

/// Expands `#[processor(args)]` on `item`; on error, the errors and the item unchanged.
pub(crate) fn processor(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed = Options::parse(args).and_then(|options| {
        let item = syn::parse2::<syn::Item>(item.clone())?;
        let model = parse::model(&options, item)?;
        Ok((options, model))
    });
    match parsed {
        Ok((options, Model::Impl(model))) => expand_impl(&options, *model),
        Ok((options, Model::Fn(model))) => expand_fn(&options, *model),
        Err(error) => on_error(&error, item),
    }
}

/// The errors, and the item as written, so that only the errors show (no cascade of "cannot
/// find" errors, and no warning that its methods go unused).
fn on_error(error: &syn::Error, item: TokenStream) -> TokenStream {
    let errors = error.to_compile_error();
    let item = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Impl(mut item)) => {
            item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
            quote!(#item)
        }
        Ok(syn::Item::Fn(mut item)) => {
            item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
            quote!(#item)
        }
        _ => item,
    };
    quote! {
        #errors
        #item
    }
}

/// `const NAME` for the `name` option.
fn name_const(options: &Options) -> TokenStream {
    match &options.name {
        Some((name, _)) => quote! {
            const NAME: ::core::option::Option<&'static ::core::primitive::str> =
                ::core::option::Option::Some(#name);
        },
        None => TokenStream::new(),
    }
}

fn expand_impl(options: &Options, model: ImplModel) -> TokenStream {
    let krate = options.krate();
    let item = &model.item;
    let self_ty = &item.self_ty;
    let (in_ty, out_ty) = (&model.in_ty, &model.out_ty);

    if let Some(keyed) = &model.keyed {
        let (key, state) = (&keyed.key, &keyed.state);
        let ctx = quote!(&mut #krate::keyed::KeyedContext<'_, #key, Self::State, Self::Output>);
        let hooks = model
            .hooks
            .iter()
            .map(|hook| delegate(&model, hook, &ctx, &krate));
        return quote! {
            #item

            #[automatically_derived]
            impl #krate::keyed::KeyedProcessFunction<#key, #in_ty> for #self_ty {
                type State = #state;
                type Output = #out_ty;
                #(#hooks)*
            }
        };
    }

    let ctx = quote!(&mut #krate::processor::Context<'_, Self::Out>);
    let hooks = model
        .hooks
        .iter()
        .map(|hook| delegate(&model, hook, &ctx, &krate));
    let name = name_const(options);
    let snapshot = match options.state_mode() {
        StateMode::Struct => struct_snapshot(options, self_ty),
        StateMode::None => unit_snapshot(&krate, self_ty),
        StateMode::Manual => TokenStream::new(),
    };
    quote! {
        #item

        #[automatically_derived]
        impl #krate::processor::Processor for #self_ty {
            type In = #in_ty;
            type Out = #out_ty;
            #name
            #(#hooks)*
        }

        #snapshot
    }
}

/// The trait method of `hook`, calling the user's method of the same name.
fn delegate(
    model: &ImplModel,
    hook: &parse::Hook,
    ctx_ty: &TokenStream,
    krate: &TokenStream,
) -> TokenStream {
    let self_ty = &model.item.self_ty;
    let in_ty = &model.in_ty;
    let ident = &hook.ident;
    let value_param = match hook.kind {
        HookKind::Process => quote!(value: #in_ty,),
        HookKind::OnWatermark => quote!(value: #krate::Timestamp,),
        HookKind::OnTimer => quote!(value: #krate::keyed::Timer,),
        HookKind::Open | HookKind::Close => TokenStream::new(),
    };
    // Spanned at the user's own parameter type, so that a type mismatch points there.
    let value_arg = match &hook.value_ty {
        Some(ty) => quote_spanned!(ty.span()=> value,),
        None => TokenStream::new(),
    };
    let (ctx_param, ctx_arg) = if hook.takes_ctx {
        (quote!(ctx), quote!(ctx))
    } else {
        (quote!(_ctx), TokenStream::new())
    };
    quote! {
        #[inline]
        fn #ident(&mut self, #value_param #ctx_param: #ctx_ty) {
            <#self_ty>::#ident(self, #value_arg #ctx_arg)
        }
    }
}

/// The default snapshot: the struct itself, cloned at each barrier.
fn struct_snapshot(options: &Options, self_ty: &syn::Type) -> TokenStream {
    let krate = options.krate();
    let version = options
        .version
        .as_ref()
        .map(|(version, _)| quote!(const VERSION: ::core::primitive::u32 = #version;));
    let migrate = options.migrate.as_ref().map(|(path, _)| {
        quote! {
            fn migrate(
                version: ::core::primitive::u32,
                bytes: &[::core::primitive::u8],
            ) -> ::core::result::Result<Self, #krate::checkpoint::StateError> {
                #path(version, bytes)
            }
        }
    });
    // Spanned at the user's type: a missing `Clone` or serde impl is reported on it.
    let state = quote_spanned!(self_ty.span()=> type State = Self;);
    let clone = quote_spanned!(self_ty.span()=> ::core::clone::Clone::clone(self));
    quote! {
        #[automatically_derived]
        impl #krate::checkpoint::Snapshot for #self_ty {
            #state
            #version

            #[inline]
            fn snapshot(&self) -> Self {
                #clone
            }

            #[inline]
            fn restore(&mut self, state: Self) {
                *self = state;
            }

            #migrate
        }
    }
}

/// The snapshot of a processor that keeps no state.
fn unit_snapshot(krate: &TokenStream, self_ty: &dyn quote::ToTokens) -> TokenStream {
    quote! {
        #[automatically_derived]
        impl #krate::checkpoint::Snapshot for #self_ty {
            type State = ();

            #[inline]
            fn snapshot(&self) -> Self::State {}

            #[inline]
            fn restore(&mut self, state: Self::State) {
                let () = state;
            }
        }
    }
}

fn expand_fn(options: &Options, model: FnModel) -> TokenStream {
    let krate = options.krate();
    let item = &model.item;
    let vis = &item.vis;
    let fn_ident = &item.sig.ident;
    let type_name = &model.type_name;
    let in_ty = &model.in_ty;
    let name = name_const(options);
    let doc = format!("The processor made by `#[processor]` from the function `{fn_ident}`.");
    let definition = quote! {
        #[doc = #doc]
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::default::Default,
        )]
        #vis struct #type_name;
    };

    let (out_ty, body) = match &model.output {
        FnOutput::Async(out_ty) => {
            return quote! {
                #item

                #definition

                #[automatically_derived]
                impl #krate::processor::AsyncProcessor for #type_name {
                    type In = #in_ty;
                    type Out = #out_ty;
                    type Future = ::core::pin::Pin<::std::boxed::Box<
                        dyn ::core::future::Future<Output = #out_ty>
                            + ::core::marker::Send
                            + 'static,
                    >>;
                    #name

                    #[inline]
                    fn call(&mut self, item: Self::In) -> Self::Future {
                        ::std::boxed::Box::pin(#fn_ident(item))
                    }
                }
            };
        }
        FnOutput::One(out_ty) => (out_ty, quote!(ctx.emit(#fn_ident(item));)),
        FnOutput::Many(out_ty) => (
            out_ty,
            quote! {
                for output in ::core::iter::IntoIterator::into_iter(#fn_ident(item)) {
                    ctx.emit(output);
                }
            },
        ),
        FnOutput::Ctx(out_ty) => (out_ty, quote!(#fn_ident(item, ctx);)),
    };
    let snapshot = unit_snapshot(&krate, type_name);
    quote! {
        #item

        #definition

        #[automatically_derived]
        impl #krate::processor::Processor for #type_name {
            type In = #in_ty;
            type Out = #out_ty;
            #name

            #[inline]
            fn process(
                &mut self,
                item: Self::In,
                ctx: &mut #krate::processor::Context<'_, Self::Out>,
            ) {
                #body
            }
        }

        #snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        processor(args, item).to_string()
    }

    #[test]
    fn a_renamed_crate_replaces_every_path_to_rheoflow() {
        let item = quote! {
            impl Dedup {
                fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {}
                fn on_timer(&mut self, timer: Timer) {}
            }
        };
        let default = expand(quote!(), item.clone());
        assert!(default.contains(":: rheoflow :: processor :: Processor"));
        let renamed = expand(quote!(crate = "flowlib", version = 2), item);
        assert!(!renamed.contains("rheoflow"), "{renamed}");
        assert!(renamed.contains("flowlib :: checkpoint :: Snapshot"));

        let renamed = expand(
            quote!(crate = "flowlib"),
            quote!(
                async fn f(x: u8) -> u8 {
                    x
                }
            ),
        );
        assert!(!renamed.contains("rheoflow"), "{renamed}");
    }

    #[test]
    fn standard_names_are_absolute() {
        let outputs = [
            expand(
                quote!(name = "n", version = 2, migrate = m),
                quote!(impl S { fn process(&mut self, item: A, ctx: &mut Context<B>) {} }),
            ),
            expand(
                quote!(),
                quote!(
                    fn f(x: A) -> Option<B> {
                        x
                    }
                ),
            ),
            expand(
                quote!(),
                quote!(
                    async fn f(x: A) -> B {
                        x
                    }
                ),
            ),
        ];
        for output in outputs {
            let mut bare = output.clone();
            for absolute in [
                ":: core :: option :: Option :: Some",
                ":: core :: option :: Option",
                ":: core :: result :: Result",
                ":: core :: clone :: Clone",
                ":: core :: default :: Default",
                ":: core :: marker :: Send",
                ":: core :: future :: Future",
                ":: core :: pin :: Pin",
                ":: core :: iter :: IntoIterator",
                ":: std :: boxed :: Box",
                ":: core :: primitive :: u32",
                ":: core :: primitive :: u8",
                ":: core :: primitive :: str",
                "-> Option < B >",
            ] {
                bare = bare.replace(absolute, "");
            }
            for name in [
                "Option", "Some", "Result", "Clone", "Default", "Send", "Box", "Pin", "u32", "u8",
                "str",
            ] {
                let word = format!(" {name} ");
                assert!(!bare.contains(&word), "bare `{name}` in {output}");
            }
        }
    }

    #[test]
    fn on_error_the_item_is_emitted_unchanged_after_the_error() {
        let output = expand(
            quote!(nmae = "x"),
            quote!(
                fn f(x: u8) -> u8 {
                    x
                }
            ),
        );
        assert!(output.starts_with(":: core :: compile_error !"), "{output}");
        assert!(output.contains("# [allow (dead_code)] fn f (x : u8) -> u8 { x }"));
        // Not a processor: no struct `F`.
        assert!(!output.contains("struct F"));
    }
}
