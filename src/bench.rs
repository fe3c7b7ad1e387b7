//! `deedlog bench append`, `open` and `verify`: drive the real append path (batch signature
//! verification, sequencing, hashing, Merkle stored hashes, durable group commit, signed
//! checkpoints) with pre-signed commands on the benchmark log of `deedlog_tools::benchlog`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use deedlog_core::SignedCommand;
use deedlog_store::{LogOptions, LogWriter, NoteFormat};
use deedlog_tools::benchlog::{BENCH_ORIGIN, BenchLogConfig, log_secret, make_command};
use serde::Serialize;

type Ack = tokio::sync::oneshot::Receiver<Result<deedlog_store::Receipt, deedlog_store::Rejection>>;

const PRESIGN_MAX: u64 = 2_000_000;

/// Arguments of `deedlog bench append`.
#[derive(Args, Debug)]
pub struct AppendArgs {
    /// How many entries to append.
    #[arg(long)]
    entries: u64,
    /// Data folder to create (must not hold a log); default: a fresh folder under the system
    /// temporary folder, removed at the end.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Most commands in one group commit.
    #[arg(long, default_value_t = 2048)]
    batch_max: usize,
    /// Longest wait for more commands once a batch has begun, in µs.
    #[arg(long, default_value_t = 500)]
    batch_wait_us: u64,
    /// Approximate size of each entry in bytes.
    #[arg(long, default_value_t = 1024)]
    entry_bytes: usize,
    /// Distinct signing keys (actors).
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Commands in flight at most (bounds the queueing part of the latency).
    #[arg(long, default_value_t = 8192)]
    inflight: usize,
    /// Signature-verification threads.
    #[arg(long, default_value_t = 2)]
    verify_threads: usize,
    /// The entry format to write: 2 (the payload signed through its salted digest, stored
    /// beside the entry) or 1 (the old format, payload signed in clear; the sequencer is told to
    /// accept it for this measurement only), to measure what version 2 costs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    entry_format: u8,
    /// Keep a state map as the node does (a status per stream hashed into a sparse Merkle
    /// tree pre-filled with 100 000 keys, its root written into the last entry of each batch),
    /// to measure what maintaining it costs.
    #[arg(long)]
    state_map: bool,
    /// Print the result as one JSON object on the last line.
    #[arg(long)]
    json: bool,
}

/// The result of `deedlog bench append`.
#[derive(Debug, Serialize)]
pub struct AppendResult {
    /// Entries appended and acknowledged.
    pub entries: u64,
    /// Durable entries per second over the timed part.
    pub eps: f64,
    /// Median ack latency, ms.
    pub p50_ms: f64,
    /// 99th percentile ack latency, ms.
    pub p99_ms: f64,
    /// Peak resident memory of the process, MB.
    pub rss_mb: f64,
    /// Resident memory when the timed part began (pre-signed commands included), MB.
    pub rss_start_mb: f64,
    /// Seconds of the timed part.
    pub seconds: f64,
    /// Whether commands were signed before timing (else while timing, on the same cores).
    pub presigned: bool,
    /// Average entry size in bytes.
    pub entry_bytes: u64,
    /// Seconds to reopen the store after the run.
    pub reopen_seconds: f64,
    /// The settings.
    pub batch_max: usize,
    /// The settings.
    pub batch_wait_us: u64,
    /// The settings.
    pub verify_threads: usize,
    /// The entry format written (1 or 2).
    pub entry_format: u8,
    /// Commands whose `(actor, nonce)` the sequencer looked up in the index on its own thread
    /// (they waited behind more committed entries than it keeps in memory); 0 when every check
    /// ran on the verify workers and from the sequencer's memory.
    pub nonce_fallbacks: u64,
    /// Commands whose stream version the sequencer read from the index on its own thread (the
    /// worker's prefetched version could not be trusted).
    pub stream_fallbacks: u64,
}

/// Peak and current resident memory in MB, from /proc/self/status.
pub(crate) fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// A latency histogram in 10 µs buckets up to 10 s.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: vec![0; 1_000_001],
            count: 0,
        }
    }
    fn record(&mut self, d: Duration) {
        let i = usize::try_from(d.as_micros() / 10)
            .unwrap_or(usize::MAX)
            .min(1_000_000);
        self.buckets[i] += 1;
        self.count += 1;
    }
    fn quantile_ms(&self, q: f64) -> f64 {
        let target = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= target {
                return (i as f64 + 1.0) * 0.01;
            }
        }
        0.0
    }
}

/// `deedlog bench append`.
pub fn append(args: &AppendArgs) -> anyhow::Result<()> {
    crate::progress::quiet_if(args.json);
    if args.entries == 0 || args.keys == 0 || args.inflight == 0 {
        bail!("--entries, --keys and --inflight must be positive");
    }
    let (dir, remove) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("deedlog-bench-{}", std::process::id())),
            true,
        ),
    };
    if dir.join("log").exists() {
        bail!(
            "{} already holds a log; give an empty folder",
            dir.display()
        );
    }
    let keys = deedlog_tools::benchlog::actors(args.keys);
    let run: u64 = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    // Size the filler so that entries come out near --entry-bytes.
    let probe = make_command(&keys, 0, "", run, args.entry_format);
    let overhead = serde_json::to_vec(&probe)?.len() + 260;
    let filler = "x".repeat(args.entry_bytes.saturating_sub(overhead));

    let presigned = args.entries <= PRESIGN_MAX;
    let mut commands: Vec<SignedCommand> = Vec::new();
    if presigned {
        eprintln!(
            "signing {} commands from {} keys (untimed)…",
            args.entries, args.keys
        );
        let threads = 2u64;
        let per = args.entries.div_ceil(threads);
        let parts: Vec<Vec<SignedCommand>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (keys, filler, format) = (&keys, &filler, args.entry_format);
                    s.spawn(move || {
                        let end = ((t + 1) * per).min(args.entries);
                        (t * per..end)
                            .map(|n| make_command(keys, n, filler, run, format))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        commands = parts.into_iter().flatten().collect();
        if commands.len() as u64 != args.entries {
            bail!("signing failed");
        }
    } else {
        eprintln!(
            "{} entries: commands are signed while timing (more than {PRESIGN_MAX} would not fit \
             the memory bound), so the rate is lower than the pipeline's",
            args.entries
        );
    }

    let sequencer = deedlog_tools::benchlog::open_log(
        &dir,
        BenchLogConfig {
            batch_max: args.batch_max,
            batch_wait: Duration::from_micros(args.batch_wait_us),
            verify_threads: args.verify_threads,
            accept_version_1: args.entry_format == 1,
            state_map: args.state_map,
        },
    )?;
    let handle = sequencer.handle();
    let (_, rss_start) = rss_mb();
    let started = Instant::now();
    let (tx, rx) = crossbeam_channel::bounded::<(Instant, Ack)>(args.inflight);
    let total = args.entries;
    let bar = crate::progress::bar("acknowledged", Some(total));
    let collector = std::thread::spawn(move || -> anyhow::Result<(Histogram, u64)> {
        let mut hist = Histogram::new();
        let mut acked = 0u64;
        for (sent, receiver) in rx {
            let receipt = receiver
                .blocking_recv()
                .context("the sequencer stopped")?
                .map_err(|r| anyhow::anyhow!("rejected: {} {}", r.code, r.message))?;
            hist.record(sent.elapsed());
            acked += 1;
            let _ = receipt;
            // Setting the position is an atomic store and indicatif redraws at its own pace, so a
            // call per entry costs little.
            bar.set_position(acked);
        }
        bar.finish_and_clear();
        Ok((hist, acked))
    });
    let submit = |command: SignedCommand| -> anyhow::Result<()> {
        let sent = Instant::now();
        let receiver = handle
            .enqueue(command)
            .map_err(|r| anyhow::anyhow!("{}", r.message))?;
        tx.send((sent, receiver)).context("collector stopped")?;
        Ok(())
    };
    if presigned {
        for command in commands {
            submit(command)?;
        }
    } else {
        for n in 0..args.entries {
            submit(make_command(&keys, n, &filler, run, args.entry_format))?;
        }
    }
    drop(tx);
    let (hist, acked) = collector
        .join()
        .map_err(|_| anyhow::anyhow!("collector panicked"))??;
    let seconds = started.elapsed().as_secs_f64();
    let size = handle.reader().size();
    let stats = handle.stats();
    let (nonce_fallbacks, stream_fallbacks) = (stats.nonce_fallbacks, stats.stream_fallbacks);
    let log_bytes: u64 = deedlog_store::segment::list(&dir.join("log"))?
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    drop(handle);
    sequencer.shutdown();
    let (rss_peak, _) = rss_mb();

    let reopen = Instant::now();
    let (writer, reader, _) = LogWriter::open(
        &dir,
        LogOptions::default(),
        Arc::new(NoteFormat::new(BENCH_ORIGIN, log_secret())?),
    )?;
    let reopen_seconds = reopen.elapsed().as_secs_f64();
    if reader.size() != size {
        bail!("reopened with {} entries, expected {size}", reader.size());
    }
    drop((writer, reader));
    if remove {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let result = AppendResult {
        entry_format: args.entry_format,
        entries: acked,
        eps: acked as f64 / seconds,
        p50_ms: hist.quantile_ms(0.50),
        p99_ms: hist.quantile_ms(0.99),
        rss_mb: rss_peak,
        rss_start_mb: rss_start,
        seconds,
        presigned,
        entry_bytes: log_bytes / size.max(1),
        reopen_seconds,
        batch_max: args.batch_max,
        batch_wait_us: args.batch_wait_us,
        verify_threads: args.verify_threads,
        nonce_fallbacks,
        stream_fallbacks,
    };
    println!(
        "{} entries in {:.2} s: {:.0} durable entries/s; ack latency p50 {:.2} ms, p99 {:.2} ms; \
         peak RSS {:.0} MB ({:.0} MB at start); ~{} bytes per entry on disk; reopen {:.3} s; \
         {} nonce look-ups on the sequencer's thread",
        result.entries,
        result.seconds,
        result.eps,
        result.p50_ms,
        result.p99_ms,
        result.rss_mb,
        result.rss_start_mb,
        result.entry_bytes,
        result.reopen_seconds,
        result.nonce_fallbacks
    );
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    }
    Ok(())
}

/// Arguments of `deedlog bench open`.
#[derive(Args, Debug)]
pub struct OpenArgs {
    /// The data folder of a store made by `bench append` or `serve`.
    #[arg(long)]
    data: PathBuf,
}

/// `deedlog bench open`: times `LogWriter::open` (recovery checks included) on an existing store.
pub fn open(args: &OpenArgs) -> anyhow::Result<()> {
    let node_key = args.data.join("keys").join("log.key");
    let format = if node_key.exists() {
        let vkey = crate::verify_cmd::log_key(&args.data, None)?;
        NoteFormat::new(
            &crate::verify_cmd::origin_of(&vkey)?,
            crate::keyfile::read(&node_key)?,
        )?
    } else {
        NoteFormat::new(BENCH_ORIGIN, log_secret())?
    };
    let (_, rss_before) = rss_mb();
    let started = Instant::now();
    let (writer, reader, report) =
        LogWriter::open(&args.data, LogOptions::default(), Arc::new(format))?;
    let seconds = started.elapsed().as_secs_f64();
    let (_, rss_after) = rss_mb();
    println!(
        "opened {} entries in {seconds:.3} s (RSS {rss_before:.0} -> {rss_after:.0} MB); {}",
        reader.size(),
        serde_json::to_string(&report)?
    );
    drop((writer, reader));
    Ok(())
}

/// Arguments of `deedlog bench verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The data folder to verify (its `log/` and `log.vkey`). With `--entries`, a benchmark log
    /// of that many entries is made there first when it holds none.
    #[arg(long)]
    data: PathBuf,
    /// Make a benchmark log of this many entries first (as `bench append --data` does), when the
    /// folder holds no log yet.
    #[arg(long)]
    entries: Option<u64>,
    /// Worker thread counts to time, one run each, in this order (the reports must be equal).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, deedlog_core::verify::default_threads()])]
    threads: Vec<usize>,
    /// Print the result as one JSON object on the last line.
    #[arg(long)]
    json: bool,
}

/// One timed run of `deedlog bench verify`.
#[derive(Debug, Serialize)]
pub struct VerifyRun {
    /// Worker threads (1: all on the calling thread).
    pub threads: usize,
    /// Entries verified.
    pub entries: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Seconds for the whole verification, reading the segment files included.
    pub seconds: f64,
    /// Entries per second.
    pub eps: f64,
    /// Faults found (0 for a log made by `bench append`).
    pub faults: usize,
}

/// `deedlog bench verify`: times the offline verifier over a data folder at each thread count,
/// and checks that every count gives the same report.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    crate::progress::quiet_if(args.json);
    if let Some(entries) = args.entries
        && !args.data.join("log").exists()
    {
        append(&AppendArgs {
            entries,
            data: Some(args.data.clone()),
            batch_max: 2048,
            batch_wait_us: 500,
            entry_bytes: 1024,
            keys: 1000,
            inflight: 8192,
            verify_threads: 2,
            entry_format: 2,
            state_map: false,
            json: false,
        })?;
    }
    if args.threads.is_empty() || args.threads.contains(&0) {
        bail!("--threads takes positive counts");
    }
    let vkey = crate::verify_cmd::log_key(&args.data, None)?;
    let origin = crate::verify_cmd::origin_of(&vkey)?;
    let log_dir = args.data.join("log");
    let mut runs = Vec::new();
    let mut first: Option<deedlog_core::verify::Report> = None;
    for &threads in &args.threads {
        let parallelism = deedlog_core::verify::Parallelism {
            threads,
            ..deedlog_core::verify::Parallelism::default()
        };
        let bar = crate::progress::bar(&format!("verified at {threads} threads"), None);
        let started = Instant::now();
        let report = deedlog_store::audit::verify_segments_with(
            &log_dir,
            &origin,
            &vkey,
            parallelism,
            &mut |n| bar.set_position(n),
        )?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let run = VerifyRun {
            threads,
            entries: report.entries,
            checkpoints: report.checkpoints,
            seconds,
            eps: report.entries as f64 / seconds,
            faults: report.faults.len(),
        };
        println!(
            "{} threads: {} entries, {} checkpoints in {:.2} s: {:.0} entries/s, {} faults",
            run.threads, run.entries, run.checkpoints, run.seconds, run.eps, run.faults
        );
        match &first {
            Some(f) if *f != report => bail!(
                "{threads} threads gave another report than {} threads",
                args.threads[0]
            ),
            Some(_) => {}
            None => first = Some(report),
        }
        runs.push(run);
    }
    if args.json {
        println!("{}", serde_json::to_string(&runs)?);
    }
    Ok(())
}
