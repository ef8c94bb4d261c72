//! OCI registry client (distribution spec): `/v2/` challenge (Basic or Bearer token), catalog and
//! tag listing with `Link` pagination, Helm chart manifests and config blobs.
//! INTERFACE STUB: bodies are being implemented.
