//! Classic Helm repository client: resolves `<endpoint>/index.yaml` as Helm does, fetches it with
//! conditional requests, parses YAML or JSON and validates entries with Helm's rules.
//!
//! Fidelity notes (compared with Helm v4's `repo.loadIndex` and `chart.Metadata.Validate`):
//! - A missing `apiVersion` or a missing `entries` key is [`Error::NotAnIndex`](crate::error::Error::NotAnIndex). Helm accepts an
//!   index without `entries` (as an empty repository); we refuse it so that a random YAML file
//!   served at the endpoint gives a clear error. `entries: {}` and `entries: null` are an empty
//!   repository.
//! - Null entries are dropped; entries failing validation are skipped and counted
//!   ([`ParsedIndex::skipped`]). An entry without `apiVersion` defaults to `v1` as in Helm.
//! - Description and appVersion are sanitised like Helm's `sanitizeString` (white space
//!   becomes a space, non-printable characters are removed; "non-printable" is approximated as
//!   control, format and private-use characters).
//! - A chart name (the entry's `name` or its key in `entries`) that `sanitizeString` would
//!   change (a control character such as an ANSI escape, a format or non-printable character,
//!   white space other than a space) makes the entry invalid: it is skipped and counted. Helm
//!   instead strips those characters from `name`, keeps the entry, and keeps the key raw; but the
//!   key is what the chart is referenced by and what reaches Terraform's output, so an entry
//!   whose name must be altered to be shown cannot be one we list.
//! - Reading is bounded: [`yaml_guard`] refuses flow nesting deeper than 64 levels and alias
//!   expansion beyond 10× the document (Helm has no nesting limit; go-yaml has a similar alias
//!   limit), and [`fetch_index`] gives the parse the rest of `request_timeout` (see there).
//! - Malformed documents are explained in plain words with the chart, entry and line at fault
//!   ([`index_doc`]), not in serde's terms.
//! - Scalars keep their literal text: an unquoted `appVersion: 1.10` stays `1.10` (Helm v4.1.4
//!   refuses the whole index instead: "cannot unmarshal number into … appVersion of type string").
//! - Versions of a chart are sorted newest first with a stable sort; versions of equal precedence
//!   (differing only in build metadata) keep their index order. `helm search repo` orders such
//!   ties nondeterministically (Go map iteration followed by an unstable sort).
//! - A version listed more than once (a re-published chart: ingress-nginx lists `4.12.0-beta.0`
//!   nine times) is kept once, as Helm lists it once: its first entry in the index, the one
//!   `helm pull --version` downloads (Helm's `IndexFile.Get` takes the first match of its sorted
//!   list; its sort is not stable for long lists, so with many versions Helm's pick may be
//!   another of the entries). `helm search repo --versions` may show the metadata of another of
//!   the entries (the last one it indexes wins there).
//!
//! Layout, by responsibility: `urls.rs` (the repository as configured, index and chart URLs as
//! Helm resolves them), `validate.rs` (Helm's entry validation and sanitising), `parse.rs` (bytes
//! → [`ParsedIndex`], bounded by a deadline), `fetch.rs` (the conditional download with retries,
//! size cap and scrubbing), `fast_path.rs` (the line reader for Helm-written YAML), `store.rs`
//! (the validated entries kept compact as they are read: no parsed copy of the whole document),
//! and the two helpers of the full parser: [`index_doc`] (the document's serde shape and
//! plain-word errors) and [`yaml_guard`] (the cost guard run before serde_norway).

#[cfg(test)]
mod excerpts;
mod fast_path;
mod fetch;
pub mod index_doc;
mod parse;
mod parsed;
mod store;
mod urls;
mod validate;
pub mod yaml_guard;

pub use fetch::{
    fetch_index, FetchedIndex, IndexBody, IndexFetch, SpoolFile, Validators, SPOOL_THRESHOLD,
};
pub use parse::{
    fast_path_reads, parse_index, parse_index_file, parse_index_full_parser, parse_index_until,
    IndexEntry, ParseDeadline, ParsedIndex, MAX_SKIPPED_EXAMPLES,
};
pub use urls::{index_url, resolve_chart_url, HelmRepo};
pub(crate) use validate::{is_alias_name, sanitize};
