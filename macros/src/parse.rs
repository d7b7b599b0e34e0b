//! Reads the annotated item into a model of the processor, checking every part of it.
//!
//! Every mistake is a `syn::Error` at the offending tokens; the mistakes of one item are
//! combined, so the user sees each once.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ImplItem, ImplItemFn, ItemFn, ItemImpl, PathArguments,
    ReturnType, Signature, Type,
};

use crate::options::{Options, StateMode};

/// An annotated item, checked.
pub(crate) enum Model {
    Impl(Box<ImplModel>),
    Fn(Box<FnModel>),
}

/// `#[processor]` or `#[processor(keyed)]` on an impl block.
pub(crate) struct ImplModel {
    pub(crate) item: ItemImpl,
    pub(crate) keyed: Option<KeyedTypes>,
    pub(crate) in_ty: Type,
    pub(crate) out_ty: Type,
    pub(crate) hooks: Vec<Hook>,
}

/// The key and state types of a keyed processor, from its `KeyedContext`.
pub(crate) struct KeyedTypes {
    pub(crate) key: Type,
    pub(crate) state: Type,
}

/// A handler found in the impl block.
pub(crate) struct Hook {
    pub(crate) kind: HookKind,
    pub(crate) ident: Ident,
    /// The type of the value argument (item, watermark, timer), if the hook has one.
    pub(crate) value_ty: Option<Type>,
    /// Whether the handler takes the context.
    pub(crate) takes_ctx: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookKind {
    Process,
    OnWatermark,
    OnTimer,
    Open,
    Close,
}

impl HookKind {
    fn of(name: &str) -> Option<HookKind> {
        Some(match name {
            "process" => HookKind::Process,
            "on_watermark" => HookKind::OnWatermark,
            "on_timer" => HookKind::OnTimer,
            "open" => HookKind::Open,
            "close" => HookKind::Close,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            HookKind::Process => "process",
            HookKind::OnWatermark => "on_watermark",
            HookKind::OnTimer => "on_timer",
            HookKind::Open => "open",
            HookKind::Close => "close",
        }
    }

    /// The value argument's name and type, as shown in messages.
    fn value(self) -> Option<&'static str> {
        match self {
            HookKind::Process => Some("item: In"),
            HookKind::OnWatermark => Some("watermark: Timestamp"),
            HookKind::OnTimer => Some("timer: Timer"),
            HookKind::Open | HookKind::Close => None,
        }
    }

    /// The expected signature, as shown in messages.
    fn signature(self, keyed: bool) -> String {
        let ctx = if keyed {
            "ctx: &mut KeyedContext<'_, Key, State, Out>"
        } else {
            "ctx: &mut Context<'_, Out>"
        };
        match self.value() {
            Some(value) => format!("fn {}(&mut self, {value}, {ctx})", self.name()),
            None => format!("fn {}(&mut self, {ctx})", self.name()),
        }
    }
}

/// `#[processor]` on a `fn` or an `async fn`.
pub(crate) struct FnModel {
    pub(crate) item: ItemFn,
    pub(crate) type_name: Ident,
    pub(crate) in_ty: Type,
    pub(crate) output: FnOutput,
}

pub(crate) enum FnOutput {
    /// Returns one output.
    One(Type),
    /// Returns an `Option<Out>` or a `Vec<Out>`: zero or more outputs.
    Many(Type),
    /// Takes the context and emits.
    Ctx(Type),
    /// An `async fn`: each call's result is one output.
    Async(Type),
}

/// Reads `item`, checked against `options`.
pub(crate) fn model(options: &Options, item: syn::Item) -> syn::Result<Model> {
    match item {
        syn::Item::Impl(item) => impl_model(options, item).map(Box::new).map(Model::Impl),
        syn::Item::Fn(item) => fn_model(options, item).map(Box::new).map(Model::Fn),
        other => Err(syn::Error::new(
            item_span(&other),
            "#[processor] goes on an impl block of a struct \
             (`impl MyProcessor { fn process(…) }`), on a `fn` or on an `async fn`",
        )),
    }
}

/// The span of the keyword that starts an item, for errors about the whole item.
fn item_span(item: &syn::Item) -> Span {
    match item {
        syn::Item::Struct(item) => item.struct_token.span,
        syn::Item::Enum(item) => item.enum_token.span,
        syn::Item::Trait(item) => item.trait_token.span,
        syn::Item::Mod(item) => item.mod_token.span,
        other => other.span(),
    }
}

/// Collects errors, to report every mistake of an item at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// An error over all of `tokens` (a type, an argument), not just their first token.
    fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(errors) => Err(errors),
            None => Ok(value),
        }
    }
}

fn impl_model(options: &Options, item: ItemImpl) -> syn::Result<ImplModel> {
    let keyed = options.keyed.is_some();
    let mut errors = Errors::default();
    check_impl_options(options, &mut errors);
    if let Some((_, path, _)) = &item.trait_ {
        errors.spanned(
            path,
            "#[processor] goes on an inherent impl block (`impl MyProcessor { … }`): it writes \
             the trait impl itself",
        );
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.spanned(
            &item.generics,
            "#[processor] does not support generic processors; implement `Processor` (and \
             `Snapshot`) by hand for a generic type",
        );
    }
    if let Some(unsafety) = item.unsafety {
        errors.at(unsafety.span, "#[processor] does not support `unsafe impl`");
    }

    let mut hooks: Vec<Hook> = Vec::new();
    let mut in_ty = None;
    let mut out_ty: Option<Type> = None;
    let mut keyed_types = None;
    let mut saw_process = false;
    for impl_item in &item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let Some(kind) = HookKind::of(&method.sig.ident.to_string()) else {
            continue;
        };
        saw_process |= kind == HookKind::Process;
        if keyed && !matches!(kind, HookKind::Process | HookKind::OnTimer) {
            errors.at(
                method.sig.ident.span(),
                format!(
                    "`{}` is not a hook of a keyed processor: a `KeyedProcessFunction` has \
                     `process` and `on_timer`",
                    kind.name()
                ),
            );
            continue;
        }
        match hook(kind, method, keyed) {
            Ok((hook, ctx)) => {
                if let Some(ctx) = ctx {
                    match &out_ty {
                        None => out_ty = Some(ctx.out.clone()),
                        Some(first) => {
                            if same(first, &ctx.out) {
                                if let (Some(first), Some(this)) = (&keyed_types, &ctx.keyed) {
                                    check_keyed_same(first, this, &mut errors);
                                }
                            } else {
                                errors.push(syn::Error::new_spanned(
                                    &ctx.out,
                                    format!(
                                        "every handler must emit the same type: `{}` here, \
                                         `{}` in the first handler",
                                        shown(&ctx.out),
                                        shown(first),
                                    ),
                                ));
                            }
                        }
                    }
                    if keyed_types.is_none() {
                        keyed_types = ctx.keyed;
                    }
                }
                if kind == HookKind::Process {
                    in_ty = hook.value_ty.clone();
                }
                hooks.push(hook);
            }
            Err(error) => errors.push(error),
        }
    }

    let Some(process) = hooks.iter().find(|hook| hook.kind == HookKind::Process) else {
        if !saw_process {
            errors.spanned(
                &item.self_ty,
                format!(
                    "missing `process` handler: expected `{}` in this impl block",
                    HookKind::Process.signature(keyed)
                ),
            );
        }
        return Err(errors.0.unwrap_or_else(|| unreachable_error(&item)));
    };
    if !process.takes_ctx {
        // `hook` already reported it.
        return Err(errors.0.unwrap_or_else(|| unreachable_error(&item)));
    }
    let (Some(in_ty), Some(out_ty)) = (in_ty, out_ty) else {
        return Err(errors.0.unwrap_or_else(|| unreachable_error(&item)));
    };
    errors.finish(ImplModel {
        item,
        keyed: keyed_types,
        in_ty,
        out_ty,
        hooks,
    })
}

/// An error for a state `impl_model` never reaches with no error recorded; never a panic.
fn unreachable_error(item: &ItemImpl) -> syn::Error {
    syn::Error::new(
        item.self_ty.span(),
        "#[processor] could not read this impl block",
    )
}

fn check_impl_options(options: &Options, errors: &mut Errors) {
    if options.keyed.is_some() {
        let keyed_only = "is not supported with `keyed`: a `KeyedProcessFunction`";
        if let Some((_, span)) = &options.name {
            errors.at(
                *span,
                format!(
                    "`name` {keyed_only} has no name; name the operator with `.name(\"…\")` \
                     after `.process(…)`"
                ),
            );
        }
        for (span, key) in [
            (options.version.as_ref().map(|v| v.1), "version"),
            (options.migrate.as_ref().map(|v| v.1), "migrate"),
            (options.state.as_ref().map(|v| v.1), "state"),
        ] {
            if let Some(span) = span {
                errors.at(
                    span,
                    format!("`{key}` {keyed_only} keeps its state per key, in the operator"),
                );
            }
        }
        return;
    }
    let mode = options.state_mode();
    if mode != StateMode::Struct {
        for (span, key) in [
            (options.version.as_ref().map(|v| v.1), "version"),
            (options.migrate.as_ref().map(|v| v.1), "migrate"),
        ] {
            if let Some(span) = span {
                let why = match mode {
                    StateMode::None => "`state = none` saves no state",
                    _ => "with `state = manual`, set it in your `Snapshot` impl",
                };
                errors.at(span, format!("`{key}` does not apply: {why}"));
            }
        }
        return;
    }
    if let Some((_, span)) = &options.migrate {
        let version = options
            .version
            .as_ref()
            .and_then(|(lit, _)| lit.base10_parse::<u32>().ok());
        if version.is_none_or(|version| version < 2) {
            errors.at(
                *span,
                "`migrate` reads states older than `version`: set `version = 2` or higher",
            );
        }
    }
}

fn check_keyed_same(first: &KeyedTypes, this: &KeyedTypes, errors: &mut Errors) {
    for (a, b, what) in [
        (&first.key, &this.key, "key"),
        (&first.state, &this.state, "state"),
    ] {
        if !same(a, b) {
            errors.push(syn::Error::new_spanned(
                b,
                format!(
                    "every handler must have the same {what} type: `{}` here, `{}` in the first \
                     handler",
                    shown(b),
                    shown(a)
                ),
            ));
        }
    }
}

/// The types named by a handler's context argument.
struct CtxTypes {
    out: Type,
    keyed: Option<KeyedTypes>,
}

/// Checks a handler's signature.
fn hook(kind: HookKind, method: &ImplItemFn, keyed: bool) -> syn::Result<(Hook, Option<CtxTypes>)> {
    let sig = &method.sig;
    let expected = kind.signature(keyed);
    let mut errors = Errors::default();
    check_plain_sig(sig, &mut errors, "handlers");
    if let Some(asyncness) = sig.asyncness {
        errors.at(
            asyncness.span,
            "handlers are called once per item and must not be `async`; for async calls, put \
             #[processor] on an `async fn` and run it with `Flow::process_async`",
        );
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.mutability.is_some() => {}
        Some(FnArg::Receiver(receiver)) => errors.spanned(
            receiver,
            format!(
                "`{}` must take `&mut self`: expected `{expected}`",
                kind.name()
            ),
        ),
        _ => errors.at(
            sig.ident.span(),
            format!(
                "`{}` must take `&mut self`: expected `{expected}`",
                kind.name()
            ),
        ),
    }
    let args: Vec<&syn::PatType> = inputs
        .filter_map(|arg| match arg {
            FnArg::Typed(arg) => Some(arg),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let value_count = usize::from(kind.value().is_some());
    let mut value_ty = None;
    let mut ctx = None;
    let mut value_is_ctx = false;
    for (index, arg) in args.iter().enumerate() {
        if index < value_count {
            if parse_ctx(&arg.ty, keyed).is_some() {
                value_is_ctx = true;
                errors.spanned(
                    &arg.ty,
                    format!(
                        "missing `{}` before the context: expected `{expected}`",
                        kind.value().unwrap_or_default()
                    ),
                );
            }
            value_ty = Some((*arg.ty).clone());
        } else if index == value_count {
            match parse_ctx(&arg.ty, keyed) {
                Some(types) => ctx = Some(types),
                None => errors.spanned(
                    &arg.ty,
                    format!(
                        "expected the context, `{}`: the full signature is `{expected}`",
                        if keyed {
                            "&mut KeyedContext<'_, Key, State, Out>"
                        } else {
                            "&mut Context<'_, Out>"
                        }
                    ),
                ),
            }
        } else {
            errors.spanned(arg, format!("unexpected argument: expected `{expected}`"));
        }
    }
    if args.len() < value_count {
        errors.at(
            sig.paren_token.span.join(),
            format!(
                "missing argument `{}`: expected `{expected}`",
                kind.value().unwrap_or_default()
            ),
        );
    } else if ctx.is_none()
        && !value_is_ctx
        && args.len() == value_count
        && kind == HookKind::Process
    {
        errors.at(
            sig.paren_token.span.join(),
            format!("missing the context argument: expected `{expected}`"),
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if !is_unit(ty) {
            errors.spanned(
                ty,
                "handlers return nothing: emit outputs with `ctx.emit(…)`",
            );
        }
    }
    let takes_ctx = ctx.is_some();
    errors.finish((
        Hook {
            kind,
            ident: sig.ident.clone(),
            value_ty,
            takes_ctx,
        },
        ctx,
    ))
}

/// Reports what no processor function may be: generic, `unsafe`, `extern`, variadic.
fn check_plain_sig(sig: &Signature, errors: &mut Errors, what: &str) {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            format!("{what} must not be generic: name the item and output types"),
        );
    }
    if let Some(unsafety) = sig.unsafety {
        errors.at(unsafety.span, format!("{what} must not be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, format!("{what} must not be `extern`"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, format!("{what} must not be variadic"));
    }
}

/// Reads `&mut Context<'_, Out>` (or, keyed, `&mut KeyedContext<'_, Key, State, Out>`).
fn parse_ctx(ty: &Type, keyed: bool) -> Option<CtxTypes> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    reference.mutability?;
    let Type::Path(path) = &*reference.elem else {
        return None;
    };
    let segment = path.path.segments.last()?;
    let name = if keyed { "KeyedContext" } else { "Context" };
    if segment.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match (keyed, types.as_slice()) {
        (false, [out]) => Some(CtxTypes {
            out: (*out).clone(),
            keyed: None,
        }),
        (true, [key, state, out]) => Some(CtxTypes {
            out: (*out).clone(),
            keyed: Some(KeyedTypes {
                key: (*key).clone(),
                state: (*state).clone(),
            }),
        }),
        _ => None,
    }
}

fn fn_model(options: &Options, item: ItemFn) -> syn::Result<FnModel> {
    let mut errors = Errors::default();
    for (span, key) in [
        (options.version.as_ref().map(|v| v.1), "version"),
        (options.migrate.as_ref().map(|v| v.1), "migrate"),
        (options.state.as_ref().map(|v| v.1), "state"),
        (options.keyed, "keyed"),
    ] {
        if let Some(span) = span {
            errors.at(
                span,
                format!(
                    "`{key}` applies to a processor on an impl block; a processor made from a \
                     `fn` keeps no state"
                ),
            );
        }
    }
    let sig = &item.sig;
    check_plain_sig(sig, &mut errors, "processor functions");
    let is_async = sig.asyncness.is_some();
    let usage = if is_async {
        "expected `async fn name(item: In) -> Out`"
    } else {
        "expected `fn name(item: In) -> Out` (or `-> Option<Out>`, `-> Vec<Out>`), or \
         `fn name(item: In, ctx: &mut Context<'_, Out>)`"
    };
    let mut in_ty = None;
    let mut ctx = None;
    for (index, arg) in sig.inputs.iter().enumerate() {
        match (index, arg) {
            (_, FnArg::Receiver(receiver)) => errors.spanned(
                receiver,
                "#[processor] on a method is not supported: put it on the impl block, or on a \
                 free `fn`",
            ),
            (0, FnArg::Typed(arg)) => in_ty = Some((*arg.ty).clone()),
            (1, FnArg::Typed(arg)) if !is_async => match parse_ctx(&arg.ty, false) {
                Some(types) => ctx = Some(types.out),
                None => errors.spanned(
                    &arg.ty,
                    format!("expected the context, `&mut Context<'_, Out>`: {usage}"),
                ),
            },
            (_, FnArg::Typed(arg)) => {
                errors.spanned(arg, format!("unexpected argument: {usage}"));
            }
        }
    }
    if sig.inputs.is_empty() {
        errors.at(
            sig.paren_token.span.join(),
            format!("missing the item argument: {usage}"),
        );
    }
    let output = match (&sig.output, ctx) {
        (ReturnType::Default, _) if is_async => Some(FnOutput::Async(syn::parse_quote!(()))),
        (ReturnType::Type(_, ty), _) if is_async => Some(FnOutput::Async((**ty).clone())),
        (ReturnType::Default, Some(out)) => Some(FnOutput::Ctx(out)),
        (ReturnType::Type(_, ty), Some(_)) if is_unit(ty) => None,
        (ReturnType::Type(_, ty), Some(_)) => {
            errors.spanned(
                ty,
                "a processor fn that takes the context emits its outputs with `ctx.emit(…)` \
                 and returns nothing",
            );
            None
        }
        (ReturnType::Type(_, ty), None) if !is_unit(ty) => Some(match many(ty) {
            Some(out) => FnOutput::Many(out),
            None => FnOutput::One((**ty).clone()),
        }),
        (_, None) => {
            if !sig.inputs.is_empty() {
                errors.at(
                    sig.ident.span(),
                    format!("a processor fn returns its output(s) or emits them: {usage}"),
                );
            }
            None
        }
    };
    if let Some(FnOutput::One(Type::ImplTrait(ty)) | FnOutput::Many(Type::ImplTrait(ty))) = &output
    {
        errors.spanned(ty, "name the output type: `impl Trait` cannot be an output");
    }
    let type_name = Ident::new(&upper_camel(&sig.ident), sig.ident.span());
    let (Some(in_ty), Some(output)) = (in_ty, output) else {
        return Err(errors.0.unwrap_or_else(|| {
            syn::Error::new(sig.ident.span(), "#[processor] could not read this fn")
        }));
    };
    errors.finish(FnModel {
        item,
        type_name,
        in_ty,
        output,
    })
}

/// The element type of a return type spelled `Option<T>` or `Vec<T>`.
fn many(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let segment = path.path.segments.last()?;
    if segment.ident != "Option" && segment.ident != "Vec" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(out)] => Some(out.clone()),
        _ => None,
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// Whether two types are spelled the same.
fn same(a: &Type, b: &Type) -> bool {
    shown(a) == shown(b)
}

/// A type as written, for messages.
fn shown(ty: &Type) -> String {
    quote::quote!(#ty)
        .to_string()
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
}

/// `parse_line` → `ParseLine`.
fn upper_camel(ident: &Ident) -> String {
    use syn::ext::IdentExt;
    ident
        .unraw()
        .to_string()
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_type_in_upper_camel_case() {
        let cases = [
            ("parse", "Parse"),
            ("parse_line", "ParseLine"),
            ("_private", "Private"),
            ("r#type", "Type"),
            ("to_utf8", "ToUtf8"),
        ];
        for (name, expected) in cases {
            let ident: Ident = syn::parse_str(name).unwrap();
            assert_eq!(upper_camel(&ident), expected);
        }
    }

    #[test]
    fn reads_option_and_vec_as_many_outputs() {
        let ty: Type = syn::parse_quote!(Option<Event>);
        assert_eq!(shown(&many(&ty).unwrap()), "Event");
        let ty: Type = syn::parse_quote!(std::vec::Vec<(u8, u8)>);
        assert!(many(&ty).is_some());
        let ty: Type = syn::parse_quote!(Result<Event, Error>);
        assert!(many(&ty).is_none());
    }
}
