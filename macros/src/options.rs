//! The options of `#[processor(…)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Ident, LitInt, LitStr, Path};

/// Every option, as listed in error messages.
pub(crate) const VALID: &str = "`name = \"…\"`, `version = N`, `migrate = path::to_fn`, \
                                `state = none | manual`, `keyed`, `crate = \"path\"`";

/// What the processor's snapshot saves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateMode {
    /// The struct itself, cloned and serialized (the default).
    Struct,
    /// Nothing: `type State = ()`.
    None,
    /// The user writes the `Snapshot` impl.
    Manual,
}

/// The parsed options; each remembers the span of its key, for errors.
pub(crate) struct Options {
    pub(crate) krate: Option<(Path, Span)>,
    pub(crate) name: Option<(LitStr, Span)>,
    pub(crate) version: Option<(LitInt, Span)>,
    pub(crate) migrate: Option<(Path, Span)>,
    pub(crate) state: Option<(StateMode, Span)>,
    pub(crate) keyed: Option<Span>,
}

impl Options {
    /// Parses the attribute's arguments.
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Options> {
        let mut options = Options {
            krate: None,
            name: None,
            version: None,
            migrate: None,
            state: None,
            keyed: None,
        };
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.span();
            let Some(ident) = meta.path.get_ident().map(Ident::to_string) else {
                return Err(unknown(&meta.path));
            };
            match ident.as_str() {
                "crate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let path = lit.parse::<Path>().map_err(|_| {
                        syn::Error::new(lit.span(), "expected a path, as in `crate = \"rheoflow\"`")
                    })?;
                    set(&mut options.krate, (path, key), "crate", key)
                }
                "name" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().is_empty() {
                        return Err(syn::Error::new(lit.span(), "the name must not be empty"));
                    }
                    set(&mut options.name, (lit, key), "name", key)
                }
                "version" => {
                    let lit: LitInt = meta.value()?.parse()?;
                    match lit.base10_parse::<u32>() {
                        Ok(version) if version >= 1 => {}
                        _ => {
                            return Err(syn::Error::new(
                                lit.span(),
                                "the version must be a whole number from 1 to 4294967295",
                            ))
                        }
                    }
                    set(&mut options.version, (lit, key), "version", key)
                }
                "migrate" => {
                    let path: Path = meta.value()?.parse()?;
                    set(&mut options.migrate, (path, key), "migrate", key)
                }
                "state" => {
                    let value: Ident = meta.value()?.parse()?;
                    let mode = match value.to_string().as_str() {
                        "none" => StateMode::None,
                        "manual" => StateMode::Manual,
                        _ => {
                            return Err(syn::Error::new(
                                value.span(),
                                "unknown state mode: expected `state = none` (save nothing) \
                                 or `state = manual` (implement `Snapshot` yourself)",
                            ))
                        }
                    };
                    set(&mut options.state, (mode, key), "state", key)
                }
                "keyed" => {
                    if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                        return Err(syn::Error::new(key, "`keyed` takes no value"));
                    }
                    set(&mut options.keyed, key, "keyed", key)
                }
                _ => Err(unknown(&meta.path)),
            }
        });
        parser.parse2(args)?;
        Ok(options)
    }

    /// What the snapshot saves.
    pub(crate) fn state_mode(&self) -> StateMode {
        self.state.map_or(StateMode::Struct, |(mode, _)| mode)
    }

    /// The path of the `rheoflow` crate.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some((path, _)) => quote::quote!(#path),
            None => quote::quote!(::rheoflow),
        }
    }
}

fn set<T>(slot: &mut Option<T>, value: T, key: &str, span: Span) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(span, format!("duplicate option `{key}`")));
    }
    *slot = Some(value);
    Ok(())
}

fn unknown(path: &Path) -> syn::Error {
    let shown = quote::quote!(#path).to_string().replace(' ', "");
    syn::Error::new_spanned(
        path,
        format!("unknown option `{shown}`; expected one of: {VALID}"),
    )
}
