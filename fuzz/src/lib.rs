//! Shared helpers of the fuzz targets: the sample log's trusted key, and the in-process HTTP
//! application the `http_command` target posts to.
#![forbid(unsafe_code)]

pub mod http;

/// The verifier key of `ledger-data/vectors/sample-log.jsonl`, so that seeds taken from the
/// sample log (checkpoints, bundles, exports) get past the signature checks and the fuzzer
/// explores what lies behind them.
pub const SAMPLE_VKEY: &str =
    "deedlog.example/sample+161bf914+ARqGjiskrny9GDrZ+0fEFTNy4h2wpi8li/MqXgYBVjCS";

/// The sample log's origin.
pub const SAMPLE_ORIGIN: &str = "deedlog.example/sample";
