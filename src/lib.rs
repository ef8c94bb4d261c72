//! chartreg: a Terraform provider (plugin protocol 6) that manages Helm chart registries as code.
//!
//! The path of one request, e.g. `terraform apply` creating a `chartreg_oci_registry`:
//!
//! 1. Terraform starts the binary ([`serve`]): tf-provider listens on 127.0.0.1 and prints the
//!    go-plugin handshake `1|6|tcp|127.0.0.1:PORT|grpc|CERT`, the only line ever written to
//!    stdout. AutoMTLS: Terraform passes its client certificate in `PLUGIN_CLIENT_CERT`;
//!    tf-provider answers with a fresh self-signed server certificate (`CERT`, base64 DER) and
//!    serves gRPC over TLS. [`serve`] holds the line back until TCP_NODELAY is set on the
//!    listener, survives SIGINT (Terraform drives the shutdown) and turns Terraform's
//!    StopProvider, and a Ctrl-C's SIGINT, into a cancellation of the registry requests in
//!    flight. Logs go to stderr as
//!    hclog JSON ([`logging`]).
//! 2. tf-provider decodes each gRPC call into typed values and calls the trait methods:
//!    `ConfigureProvider` → [`provider`] checks the provider block and stores the effective
//!    settings ([`settings`]: every default, the `Shared` cell the objects read);
//!    `GetProviderSchema` → the provider lists [`resources::all`] and [`data_sources::all`], the
//!    one list of object types ([`objects`]) that `chartreg-docs` ([`docs`]) reads too;
//!    `ValidateResourceConfig` / `PlanResourceChange` → the object in [`resources`] (one per
//!    file, schemas built with [`schema_util`]) checks attributes and plans without any network
//!    request;
//!    `ApplyResourceChange` / `ReadResource` → the object builds a registry description from
//!    its state and calls a client (`ImportResourceState` only builds a state: the read that
//!    follows it downloads).
//! 3. [`registry`] (no Terraform types) does the HTTP work: `helm_index::fetch_index`
//!    (conditional GET, size limit, parse) or `oci::OciClient::sync` (auth challenges, tokens,
//!    catalog, tags, manifests, config blobs, reuse of the previous catalog), and returns a
//!    [`registry::catalog::Catalog`] that the object writes into state.
//! 4. A failure is one [`error::Error`], which names its culprit (endpoint, credentials, TLS,
//!    base paths) but no attribute. [`diagnostics`] turns it into the Terraform diagnostic: a
//!    title-case summary, the redacted detail with a hint, and the attribute path the object's
//!    `AttrMap` gives that culprit. On create or update it is an error and nothing is written; on a
//!    refresh it is a warning and the prior state is kept.

pub mod data_sources;
pub mod diagnostics;
pub mod docs;
pub mod error;
/// The fuzz targets' checks (tests and `--cfg fuzzing` builds only; see `make fuzz`).
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod logging;
pub mod objects;
pub mod provider;
pub mod registry;
pub mod resources;
pub mod schema_util;
pub mod serve;
pub mod settings;
