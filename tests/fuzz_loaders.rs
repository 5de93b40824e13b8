//! Bounded fuzzing of every input parser, run with the normal tests: model weights
//! (safetensors), expert packs, `config.json`, `tokenizer.json`, CTranslate2 `model.bin` (with
//! its tokenizer and config), PyTorch checkpoints (the paper's released experts) and each
//! audio container (WAV, FLAC, MP3, OGG).
//!
//! Each campaign mutates small valid seeds — random truncation, bit flips, interesting
//! integers, header length/offset/dtype/shape edits, huge declared sizes, JSON value edits,
//! NaN/inf poisoning — and requires of every case: a clear `Error` or a sound result, never a
//! panic (also none caught inside the crate: in the browser a panic aborts), no allocation
//! near the declared (absurd) size, and no hang (a time bound per case). Cases whose
//! outcome is known (a poisoned tensor, a config that contradicts the weights) must also get
//! that outcome.
//!
//! Seeds: a fixed one plus two fresh ones per run (printed). `FUZZ_SEED=<n>` runs that seed
//! only, `FUZZ_SCALE=<x>` multiplies the iteration counts. A failing case is saved under
//! `target/fuzz-failures/` and reported with its seed and iteration. Run with
//! `-- --nocapture` to see the iteration counts and times per parser.

use whisper_clsr_test_kit as kit;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Once};
use std::time::{Duration, Instant};

use kit::ct2::{Ct2File, TINY_CT2_CONFIG, TINY_CT2_TOKENIZER};
use kit::random_model::{write_random_model, TinyConfig};
use kit::torch_checkpoint::{distilwhisper_experts, Checkpoint, Container, Storage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use whisper_clsr::audio::decode_audio;
use whisper_clsr::convert::hf_config::SpecialTokens;
use whisper_clsr::convert::inspect_ct2;
use whisper_clsr::convert::torch::TorchCheckpoint;
use whisper_clsr::decode::tokenizer::{Task, WhisperTokenizer};
use whisper_clsr::model::{WeightFile, WhisperConfig};
use whisper_clsr::pack::{base_fingerprint, ExpertPack, META_KEY};

// ---------------------------------------------------------------------------------------------
// Allocation tracking: the largest single allocation per thread, and a hard cap that names the
// case before the process aborts (an allocation of the declared absurd size would otherwise
// take the machine's memory or abort without saying which input did it).

struct Tracking;

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Larger single allocations abort the run (after naming the case).
const HARD_CAP: usize = 1 << 30;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static PANICS: Cell<usize> = const { Cell::new(0) };
    /// (campaign id, seed, iteration) of the case this thread runs, for the abort message.
    static CASE: Cell<(u32, u64, u64)> = const { Cell::new((u32::MAX, 0, 0)) };
}

fn note_allocation(size: usize) -> bool {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    if size <= HARD_CAP {
        return true;
    }
    // No allocation from here: format into a stack buffer.
    let (campaign, seed, iteration) = CASE.try_with(|c| c.get()).unwrap_or((u32::MAX, 0, 0));
    let mut buf = [0u8; 200];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(
        cursor,
        "\nfuzz: allocation of {size} bytes in campaign {} (seed {seed}, iteration {iteration})\n",
        CAMPAIGNS.get(campaign as usize).copied().unwrap_or("?")
    );
    let n = cursor.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..n]);
    false
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if note_allocation(layout.size()) {
            unsafe { System.alloc(layout) }
        } else {
            std::ptr::null_mut()
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if note_allocation(layout.size()) {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            std::ptr::null_mut()
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if note_allocation(new_size) {
            unsafe { System.realloc(ptr, layout, new_size) }
        } else {
            std::ptr::null_mut()
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Counts panics per thread, including those the crate catches itself.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = PANICS.try_with(|p| p.set(p.get() + 1));
            default(info);
        }));
    });
}

// ---------------------------------------------------------------------------------------------
// The campaign driver.

const CAMPAIGNS: [&str; 10] = [
    "model.safetensors",
    "expert pack",
    "config.json",
    "tokenizer.json",
    "ct2 model.bin",
    "wav",
    "flac",
    "mp3",
    "ogg",
    "torch checkpoint",
];

/// One input and what is known about it.
struct Case {
    input: Vec<u8>,
    /// The mutation, for messages.
    what: String,
    /// When set, the parser must refuse the input with an error containing this text.
    must_refuse: Option<String>,
}

impl Case {
    fn new(input: Vec<u8>, what: impl Into<String>) -> Case {
        Case {
            input,
            what: what.into(),
            must_refuse: None,
        }
    }
}

/// What a parser made of one input: `Ok` accepted, `Err` refused with that message.
type Verdict = Result<(), String>;

/// The check of one case: the parser's verdict, or a violated property.
type Check = dyn Fn(&Case) -> Result<Verdict, String> + Send + Sync;

struct Limits {
    iterations: usize,
    per_case: Duration,
    /// Largest allowed single allocation: `base + per_input_byte × input length`.
    alloc_base: usize,
    alloc_per_input_byte: usize,
}

fn scale() -> f64 {
    std::env::var("FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// The fixed seed and two fresh ones, or `FUZZ_SEED` alone.
fn seeds(campaign: usize) -> Vec<u64> {
    if let Some(seed) = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let fresh = |k: u64| {
        (now ^ (campaign as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_mul(k.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1)
            >> 1
    };
    vec![0x5eed_f022, fresh(1), fresh(2)]
}

fn case_rng(seed: u64, iteration: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ iteration.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn failure_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures")
}

/// Runs one campaign: `make` builds each case on this thread, `check` runs it on a worker
/// thread under the time bound. Panics with every failure found (up to a few) at the end.
fn campaign(id: usize, limits: Limits, make: impl Fn(&mut StdRng) -> Case, check: Arc<Check>) {
    count_panics();
    let name = CAMPAIGNS[id];
    let seeds = seeds(id);
    let iterations = ((limits.iterations as f64 * scale()).ceil() as usize).max(1);
    let started = Instant::now();
    let (to_worker, from_main) = mpsc::channel::<(u64, u64, Arc<Case>)>();
    let (to_main, from_worker) = mpsc::channel();
    let worker_check = check.clone();
    std::thread::Builder::new()
        .name(format!("fuzz {name}"))
        .stack_size(16 << 20)
        .spawn(move || {
            for (seed, iteration, case) in from_main {
                CASE.with(|c| c.set((id as u32, seed, iteration)));
                LARGEST.with(|l| l.set(0));
                PANICS.with(|p| p.set(0));
                let t = Instant::now();
                let result = catch_unwind(AssertUnwindSafe(|| worker_check(&case)));
                let outcome = (
                    result.map_err(|panic| {
                        panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default()
                    }),
                    LARGEST.with(|l| l.get()),
                    PANICS.with(|p| p.get()),
                    t.elapsed(),
                );
                if to_main.send(outcome).is_err() {
                    return;
                }
            }
        })
        .unwrap();

    let (mut accepted, mut refused, mut slowest, mut largest) = (0, 0, Duration::ZERO, 0);
    let mut failures: Vec<String> = Vec::new();
    'seeds: for &seed in &seeds {
        for iteration in 0..iterations as u64 {
            let case = Arc::new(make(&mut case_rng(seed, iteration)));
            to_worker.send((seed, iteration, case.clone())).unwrap();
            let where_ = format!("{name}, seed {seed}, iteration {iteration}: {}", case.what);
            let Ok((result, alloc, panics, took)) = from_worker.recv_timeout(limits.per_case)
            else {
                save(name, seed, iteration, &case.input);
                failures.push(format!(
                    "hang: no answer within {:?} ({where_})",
                    limits.per_case
                ));
                // The worker is stuck; the rest of this campaign cannot run.
                break 'seeds;
            };
            slowest = slowest.max(took);
            largest = largest.max(alloc);
            let allowed = limits.alloc_base + limits.alloc_per_input_byte * case.input.len();
            let problem = match result {
                Err(panic) => Some(format!("panic `{panic}`")),
                Ok(_) if panics > 0 => Some(format!(
                    "{panics} panic(s) caught inside the crate (they abort in the browser)"
                )),
                Ok(_) if alloc > allowed => Some(format!(
                    "allocated {alloc} bytes at once for a {}-byte input (limit {allowed})",
                    case.input.len()
                )),
                Ok(Err(violation)) => Some(violation),
                Ok(Ok(Ok(()))) if case.must_refuse.is_some() => {
                    Some("accepted an input that must be refused".to_string())
                }
                Ok(Ok(Err(message))) => match &case.must_refuse {
                    Some(needle) if !message.contains(needle.as_str()) => Some(format!(
                        "refused, but the error does not mention {needle:?}: {message}"
                    )),
                    _ => {
                        refused += 1;
                        None
                    }
                },
                Ok(Ok(Ok(()))) => {
                    accepted += 1;
                    None
                }
            };
            if let Some(problem) = problem {
                save(name, seed, iteration, &case.input);
                failures.push(format!("{problem} ({where_})"));
                if failures.len() >= 5 {
                    break 'seeds;
                }
            }
        }
    }
    drop(to_worker);
    let cases = accepted + refused + failures.len();
    println!(
        "fuzz {name}: {cases} cases ({iterations} per seed, seeds {seeds:?}) in {:.1} s: \
         {accepted} accepted, {refused} refused, slowest case {:.0} ms, largest allocation \
         {:.1} MiB",
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1e3,
        largest as f64 / (1 << 20) as f64
    );
    assert!(
        failures.is_empty(),
        "fuzz {name}: {} failure(s) (inputs saved in {}):\n{}",
        failures.len(),
        failure_dir().display(),
        failures.join("\n")
    );
}

fn save(name: &str, seed: u64, iteration: u64, input: &[u8]) {
    let dir = failure_dir();
    let _ = std::fs::create_dir_all(&dir);
    let file = format!("{}-{seed}-{iteration}.bin", name.replace([' ', '.'], "_"));
    let _ = std::fs::write(dir.join(file), input);
}

// ---------------------------------------------------------------------------------------------
// Mutators.

/// Values that break length and offset arithmetic.
const INTERESTING_U64: [u64; 14] = [
    0,
    1,
    2,
    3,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A position, half the time inside the first `hot` bytes (where headers live).
fn position(rng: &mut StdRng, len: usize, hot: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if hot > 0 && rng.random_bool(0.5) {
        rng.random_range(0..hot.min(len))
    } else {
        rng.random_range(0..len)
    }
}

/// Format-blind mutations: truncation, bit flips, interesting bytes and integers, deleted,
/// duplicated, inserted and zeroed ranges.
fn mutate_bytes(rng: &mut StdRng, input: &[u8], hot: usize) -> Case {
    let mut b = input.to_vec();
    let len = b.len();
    let what = match rng.random_range(0..9) {
        0 => {
            let n = rng.random_range(0..len.max(1));
            b.truncate(n);
            format!("truncated to {n} bytes")
        }
        1 => {
            let flips = rng.random_range(1..=8);
            for _ in 0..flips {
                let i = position(rng, len, hot);
                if i < b.len() {
                    b[i] ^= 1 << rng.random_range(0..8);
                }
            }
            format!("{flips} bit flips")
        }
        2 => {
            let i = position(rng, len, hot);
            let v = *pick(rng, &[0u8, 1, 0x7f, 0x80, 0xfe, 0xff]);
            if i < b.len() {
                b[i] = v;
            }
            format!("byte {i} = {v:#x}")
        }
        3 | 4 => {
            let width = *pick(rng, &[2usize, 4, 8]);
            let i = position(rng, len.saturating_sub(width - 1), hot);
            let v = *pick(rng, &INTERESTING_U64);
            if i + width <= b.len() {
                b[i..i + width].copy_from_slice(&v.to_le_bytes()[..width]);
            }
            format!("{width}-byte word at {i} = {v:#x}")
        }
        5 => {
            let start = position(rng, len, hot);
            let end = (start + rng.random_range(1..=64)).min(len);
            b.drain(start..end);
            format!("deleted bytes {start}..{end}")
        }
        6 => {
            let start = position(rng, len, 0);
            let end = (start + rng.random_range(1..=256)).min(len);
            let chunk = b[start..end].to_vec();
            let at = position(rng, len, hot);
            b.splice(at..at, chunk);
            format!("copied bytes {start}..{end} to {at}")
        }
        7 => {
            let at = position(rng, len, hot);
            let n = rng.random_range(1..=32);
            let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            b.splice(at..at, junk);
            format!("inserted {n} random bytes at {at}")
        }
        _ => {
            let start = position(rng, len, hot);
            let end = (start + rng.random_range(1..=512)).min(len);
            b[start..end].fill(0);
            format!("zeroed bytes {start}..{end}")
        }
    };
    Case::new(b, what)
}

/// JSON values that break size arithmetic and type expectations.
fn interesting_json(rng: &mut StdRng) -> Value {
    match rng.random_range(0..14) {
        0 => 0.into(),
        1 => (-1).into(),
        2 => u64::MAX.into(),
        3 => (1u64 << 40).into(),
        4 => (u32::MAX as u64 + 1).into(),
        5 => 1e300.into(),
        6 => 0.5.into(),
        7 => Value::Null,
        8 => "".into(),
        9 => "x".repeat(rng.random_range(1..5000)).into(),
        10 => true.into(),
        11 => Value::Array(vec![]),
        12 => Value::Array((0..rng.random_range(1..2000)).map(|i| i.into()).collect()),
        _ => serde_json::json!({}),
    }
}

/// Edits one node of `value`: replaces it with an interesting value, deletes or renames an
/// object key, or nests it deeply. Returns a description.
fn mutate_json_value(rng: &mut StdRng, value: &mut Value) -> String {
    let mut path = String::new();
    let mut node = value;
    // Walk down a random path, stopping at a random depth.
    loop {
        let keys: Vec<String> = match &*node {
            Value::Object(m) if !m.is_empty() => m.keys().cloned().collect(),
            Value::Array(a) if !a.is_empty() => (0..a.len()).map(|i| i.to_string()).collect(),
            _ => break,
        };
        if !path.is_empty() && rng.random_bool(0.4) {
            break;
        }
        let key = pick(rng, &keys).clone();
        if let Value::Object(m) = &mut *node {
            if rng.random_bool(0.15) {
                m.remove(&key);
                return format!("removed {path}/{key}");
            }
            if rng.random_bool(0.05) {
                let v = m.remove(&key).unwrap();
                m.insert(format!("{key}_"), v);
                return format!("renamed {path}/{key}");
            }
        }
        path = format!("{path}/{key}");
        node = match node {
            Value::Object(m) => m.get_mut(&key).unwrap(),
            Value::Array(a) => &mut a[key.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    if rng.random_bool(0.05) {
        let depth = rng.random_range(100..3000);
        let mut nested = node.take();
        for _ in 0..depth {
            nested = Value::Array(vec![nested]);
        }
        *node = nested;
        return format!("nested {path} {depth} deep");
    }
    let new = interesting_json(rng);
    let shown: String = new.to_string().chars().take(40).collect();
    *node = new;
    format!("{path} = {shown}")
}

/// JSON text: structure-aware edits most of the time, byte mutations otherwise.
fn mutate_json_text(rng: &mut StdRng, text: &[u8]) -> Case {
    if rng.random_bool(0.3) {
        return mutate_bytes(rng, text, 0);
    }
    let mut value: Value = serde_json::from_slice(text).unwrap();
    let mut what = Vec::new();
    for _ in 0..rng.random_range(1..=2) {
        what.push(mutate_json_value(rng, &mut value));
    }
    Case::new(serde_json::to_vec(&value).unwrap(), what.join("; "))
}

/// A safetensors file split into its JSON header and data.
struct Safetensors {
    header: serde_json::Map<String, Value>,
    data: Vec<u8>,
}

impl Safetensors {
    fn parse(bytes: &[u8]) -> Safetensors {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        Safetensors {
            header: serde_json::from_slice(&bytes[8..8 + n]).unwrap(),
            data: bytes[8 + n..].to_vec(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).unwrap();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header);
        out.extend(&self.data);
        out
    }

    fn tensor_names(&self) -> Vec<String> {
        self.header
            .keys()
            .filter(|k| *k != "__metadata__")
            .cloned()
            .collect()
    }

    /// (dtype, element count, data range) of tensor `name`.
    fn entry(&self, name: &str) -> (String, usize, std::ops::Range<usize>) {
        let e = &self.header[name];
        let shape = e["shape"].as_array().unwrap();
        let offsets = e["data_offsets"].as_array().unwrap();
        let range = offsets[0].as_u64().unwrap() as usize..offsets[1].as_u64().unwrap() as usize;
        let n = shape.iter().map(|d| d.as_u64().unwrap() as usize).product();
        (e["dtype"].as_str().unwrap().to_string(), n, range)
    }
}

/// The bit patterns of a NaN or an infinity in `dtype`, little-endian.
fn non_finite_bits(rng: &mut StdRng, dtype: &str) -> Option<Vec<u8>> {
    let kind = rng.random_range(0..3);
    Some(match dtype {
        "F32" => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][kind]
            .to_le_bytes()
            .to_vec(),
        "F16" => [half::f16::NAN, half::f16::INFINITY, half::f16::NEG_INFINITY][kind]
            .to_le_bytes()
            .to_vec(),
        "BF16" => [
            half::bf16::NAN,
            half::bf16::INFINITY,
            half::bf16::NEG_INFINITY,
        ][kind]
            .to_le_bytes()
            .to_vec(),
        _ => return None,
    })
}

/// Structure-aware safetensors mutations. `extra_layer` names a tensor to copy as one layer
/// past the last (which a loader must refuse) and the text its error must contain.
fn mutate_safetensors(
    rng: &mut StdRng,
    seed: &[u8],
    extra_layer: Option<(&str, &str, &str)>,
) -> Case {
    let mut st = Safetensors::parse(seed);
    let header_end = 8 + u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let names = st.tensor_names();
    let name = pick(rng, &names).clone();
    match rng.random_range(0..10) {
        0..=2 => mutate_bytes(rng, seed, header_end),
        3 => {
            // The header length prefix.
            let mut b = seed.to_vec();
            let v = *pick(
                rng,
                &[
                    0,
                    1,
                    header_end as u64 - 9,
                    header_end as u64 - 7,
                    seed.len() as u64,
                    seed.len() as u64 - 7,
                    100_000_001,
                    u32::MAX as u64,
                    u64::MAX,
                    u64::MAX - 7,
                ],
            );
            b[..8].copy_from_slice(&v.to_le_bytes());
            Case::new(b, format!("header length = {v}"))
        }
        4 => {
            let dtype = *pick(
                rng,
                &[
                    "F64", "I8", "U8", "I64", "BOOL", "F8_E4M3", "BF16", "F16", "F32", "I4", "??",
                ],
            );
            st.header.get_mut(&name).unwrap()["dtype"] = dtype.into();
            Case::new(st.bytes(), format!("{name}: dtype = {dtype}"))
        }
        5 => {
            let (_, n, _) = st.entry(&name);
            let shape: Value = match rng.random_range(0..8) {
                0 => serde_json::json!([]),
                1 => serde_json::json!([0]),
                2 => serde_json::json!([n + 1]),
                3 => serde_json::json!([u32::MAX, u32::MAX]),
                4 => serde_json::json!([u64::MAX]),
                5 => serde_json::json!([1u64 << 32, 1u64 << 32, 1u64 << 32]),
                6 => serde_json::json!([n, 1, 1]),
                _ => serde_json::json!([-1]),
            };
            let shown = shape.to_string();
            st.header.get_mut(&name).unwrap()["shape"] = shape;
            Case::new(st.bytes(), format!("{name}: shape = {shown}"))
        }
        6 => {
            let (_, _, range) = st.entry(&name);
            let total = st.data.len() as u64;
            let offsets = match rng.random_range(0..6) {
                0 => serde_json::json!([range.end, range.start]),
                1 => serde_json::json!([0, total]),
                2 => serde_json::json!([range.start, u64::MAX]),
                3 => serde_json::json!([u64::MAX - 1, u64::MAX]),
                4 => serde_json::json!([range.start + 1, range.end + 1]),
                _ => serde_json::json!([range.start]),
            };
            let shown = offsets.to_string();
            st.header.get_mut(&name).unwrap()["data_offsets"] = offsets;
            Case::new(st.bytes(), format!("{name}: data_offsets = {shown}"))
        }
        7 => {
            // Poison one value.
            let (dtype, n, range) = st.entry(&name);
            let Some(bits) = non_finite_bits(rng, &dtype).filter(|_| n > 0) else {
                return mutate_bytes(rng, seed, header_end);
            };
            let element = rng.random_range(0..n);
            let at = range.start + element * bits.len();
            st.data[at..at + bits.len()].copy_from_slice(&bits);
            Case {
                input: st.bytes(),
                what: format!("{name}[{element}] = non-finite"),
                must_refuse: Some(name.clone()),
            }
        }
        8 => match extra_layer {
            Some((source, copy, needle)) => {
                let (_, _, range) = st.entry(source);
                let mut entry = st.header[source].clone();
                let start = st.data.len();
                st.data.extend_from_within(range.clone());
                entry["data_offsets"] = serde_json::json!([start, st.data.len()]);
                st.header.insert(copy.to_string(), entry);
                Case {
                    input: st.bytes(),
                    what: format!("added {copy}"),
                    must_refuse: Some(needle.to_string()),
                }
            }
            None => mutate_bytes(rng, seed, header_end),
        },
        _ => {
            // The metadata: the pack's JSON when there is one, else the map itself.
            let meta = st
                .header
                .entry("__metadata__")
                .or_insert_with(|| serde_json::json!({}));
            let pack_meta = meta
                .get(META_KEY)
                .and_then(|v| v.as_str())
                .map(String::from);
            let what = match pack_meta {
                Some(text) => {
                    let mut value: Value = serde_json::from_str(&text).unwrap();
                    let what = mutate_json_value(rng, &mut value);
                    meta[META_KEY] = value.to_string().into();
                    format!("pack metadata {what}")
                }
                None => format!("metadata {}", mutate_json_value(rng, meta)),
            };
            Case::new(st.bytes(), what)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds.

/// The fuzz model: d_model 16, one layer per stack, vocabulary 40.
fn fuzz_model_config() -> TinyConfig {
    TinyConfig {
        d_model: 16,
        heads: 2,
        encoder_layers: 1,
        decoder_layers: 1,
        vocab: 40,
        n_mels: 80,
        target_positions: 8,
    }
}

/// config.json and model.safetensors of the fuzz model, stored as `dtype`.
fn fuzz_model(dtype: safetensors::Dtype) -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-fuzz-model-{}-{dtype:?}",
        std::process::id()
    ));
    write_random_model(&dir, &fuzz_model_config(), dtype, &mut kit::rng(77));
    let config = std::fs::read(dir.join("config.json")).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (config, weights)
}

/// A pack for the fuzz model (both layers, f32 or f16).
fn fuzz_pack(dtype: whisper_clsr::gpu::DType) -> Vec<u8> {
    let (config, weights) = fuzz_model(safetensors::Dtype::F32);
    let config = WhisperConfig::from_json(&config).unwrap();
    let file = WeightFile::new(weights, "seed").unwrap();
    ExpertPack::init_from_base(&config, &file, "ca")
        .unwrap()
        .to_bytes(dtype)
}

/// A small byte-level BPE tokenizer.json with Whisper's special tokens (English-only layout).
fn fuzz_tokenizer() -> Vec<u8> {
    kit::tiny_whisper::tokenizer_json()
}

/// Interleaved samples of a two-tone signal with a little noise.
fn signal(rate: u32, channels: u16, seconds: f32) -> Vec<f32> {
    let n = (rate as f32 * seconds) as usize;
    let mut rng = kit::rng(5);
    (0..n)
        .flat_map(|i| {
            let t = i as f32 / rate as f32;
            let x = 0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * 1250.0 * t).sin();
            (0..channels)
                .map(|c| x * (1.0 - 0.3 * c as f32) + rng.random_range(-0.01..0.01))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A RIFF/WAVE file: format tag 1 (PCM, `bits` 8/16/24) or 3 (float, 32).
fn wav(interleaved: &[f32], channels: u16, rate: u32, tag: u16, bits: u16) -> Vec<u8> {
    let mut data = Vec::new();
    for &x in interleaved {
        match (tag, bits) {
            (3, _) => data.extend(x.to_le_bytes()),
            (_, 8) => data.push((x * 127.0 + 128.0) as u8),
            (_, 16) => data.extend(((x * 32767.0) as i16).to_le_bytes()),
            _ => data.extend(&((x * 8_388_607.0) as i32).to_le_bytes()[..3]),
        }
    }
    let block_align = channels * bits / 8;
    let mut b = Vec::new();
    b.extend(b"RIFF");
    b.extend((36 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(tag.to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * block_align as u32).to_le_bytes());
    b.extend(block_align.to_le_bytes());
    b.extend(bits.to_le_bytes());
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    b
}

/// Encodes a 16-bit WAV with `tool` (sox or lame) into `ext`; fails, never skips, when the
/// tool is missing.
fn encode_with(tool: &str, ext: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-fuzz-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("src-{ext}.wav"));
    let out = dir.join(format!("clip.{ext}"));
    std::fs::write(&src, wav(&signal(22_050, 2, 0.3), 2, 22_050, 1, 16)).unwrap();
    let mut cmd = std::process::Command::new(tool);
    if tool == "lame" {
        cmd.args(["--quiet", "-b", "64"]).arg(&src).arg(&out);
    } else {
        cmd.arg(&src).arg(&out);
    }
    let result = cmd.output().unwrap_or_else(|e| {
        panic!("`{tool}` not found ({e}): apt-get install -y sox libsox-fmt-all lame")
    });
    assert!(
        result.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

// ---------------------------------------------------------------------------------------------
// Parser checks.

fn message(e: whisper_clsr::Error) -> String {
    e.to_string()
}

/// The host side of loading a model: parse, check the config against the tensors, convert
/// every tensor, fingerprint and initialise a pack (which reads the FFNs at their expected
/// shapes).
fn load_model(bytes: &[u8], config: &WhisperConfig) -> Verdict {
    let file = WeightFile::new(bytes.to_vec(), "fuzz/model.safetensors").map_err(message)?;
    config.check_weights(&file).map_err(message)?;
    for (name, shape) in file.shapes() {
        file.host(&name, &shape).map_err(message)?;
    }
    base_fingerprint(config, &file).map_err(message)?;
    ExpertPack::init_from_base(config, &file, "ca").map_err(message)?;
    Ok(())
}

#[test]
fn fuzz_model_safetensors() {
    let (config_json, f32_weights) = fuzz_model(safetensors::Dtype::F32);
    let (_, f16_weights) = fuzz_model(safetensors::Dtype::F16);
    let config = WhisperConfig::from_json(&config_json).unwrap();
    for seed in [&f32_weights, &f16_weights] {
        load_model(seed, &config).expect("the seeds load");
    }
    let seeds = [f32_weights, f16_weights];
    campaign(
        0,
        Limits {
            iterations: 2500,
            per_case: Duration::from_secs(10),
            alloc_base: 4 << 20,
            alloc_per_input_byte: 4,
        },
        |rng| {
            let seed = &seeds[rng.random_range(0..2)];
            mutate_safetensors(
                rng,
                seed,
                Some((
                    "model.encoder.layers.0.fc2.bias",
                    "model.encoder.layers.1.fc2.bias",
                    "encoder_layers = 1",
                )),
            )
        },
        Arc::new(move |case: &Case| Ok(load_model(&case.input, &config))),
    );
}

#[test]
fn fuzz_expert_pack() {
    let seeds = [
        fuzz_pack(whisper_clsr::gpu::DType::F32),
        fuzz_pack(whisper_clsr::gpu::DType::F16),
    ];
    campaign(
        1,
        Limits {
            iterations: 2500,
            per_case: Duration::from_secs(10),
            alloc_base: 4 << 20,
            alloc_per_input_byte: 4,
        },
        |rng| {
            let seed = &seeds[rng.random_range(0..2)];
            mutate_safetensors(rng, seed, None)
        },
        Arc::new(|case: &Case| {
            let pack = match ExpertPack::from_bytes(&case.input, "fuzz.pack") {
                Ok(pack) => pack,
                Err(e) => return Ok(Err(e.to_string())),
            };
            let (d, ffn, gate) = (pack.meta.d_model, pack.meta.ffn_dim, pack.meta.gate_dim);
            let mut seen = std::collections::HashSet::new();
            for l in &pack.layers {
                if !seen.insert((l.part, l.index)) {
                    return Err(format!("accepted {:?} layer {} twice", l.part, l.index));
                }
                if l.expert.dims() != (d, ffn, gate)
                    || l.expert.fc1.len() != ffn * d
                    || l.expert.gate_in.len() != gate * d
                    || l.expert.gate_out.len() != gate
                {
                    return Err(format!(
                        "accepted a layer that does not match {d}/{ffn}/{gate}"
                    ));
                }
                let values = [
                    &l.expert.fc1,
                    &l.expert.fc1_bias,
                    &l.expert.fc2,
                    &l.expert.fc2_bias,
                    &l.expert.gate_in,
                    &l.expert.gate_in_bias,
                    &l.expert.gate_out,
                ];
                if values.iter().any(|v| v.iter().any(|x| !x.is_finite())) {
                    return Err("accepted a non-finite value".into());
                }
            }
            Ok(Ok(()))
        }),
    );
}

#[test]
fn fuzz_config_json() {
    let (config_json, weights) = fuzz_model(safetensors::Dtype::F16);
    let original = WhisperConfig::from_json(&config_json).unwrap();
    let file = Arc::new(WeightFile::new(weights, "fuzz/model.safetensors").unwrap());
    original.check_weights(&file).expect("the seed config fits");
    campaign(
        2,
        Limits {
            iterations: 4000,
            per_case: Duration::from_secs(10),
            alloc_base: 4 << 20,
            alloc_per_input_byte: 64,
        },
        |rng| mutate_json_text(rng, &config_json),
        Arc::new(move |case: &Case| {
            let config = match WhisperConfig::from_json(&case.input) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e.to_string())),
            };
            if let Err(e) = config.check_weights(&file) {
                return Ok(Err(e.to_string()));
            }
            let fields = |c: &WhisperConfig| {
                [
                    c.d_model,
                    c.encoder_layers,
                    c.decoder_layers,
                    c.encoder_ffn_dim,
                    c.decoder_ffn_dim,
                    c.num_mel_bins,
                    c.vocab_size,
                    c.max_source_positions,
                    c.max_target_positions,
                ]
            };
            if fields(&config) != fields(&original) {
                return Err(format!(
                    "accepted a config that contradicts the weights: {config:?}"
                ));
            }
            base_fingerprint(&config, &file).map_err(|e| format!("fingerprint failed: {e}"))?;
            Ok(Ok(()))
        }),
    );
}

#[test]
fn fuzz_tokenizer_json() {
    let seed = fuzz_tokenizer();
    let tok = WhisperTokenizer::from_bytes(&seed).expect("the seed tokenizer loads");
    assert_eq!(tok.decode(&[19, 7, 4]).unwrap(), "the");
    campaign(
        3,
        Limits {
            iterations: 1500,
            per_case: Duration::from_secs(10),
            alloc_base: 16 << 20,
            alloc_per_input_byte: 256,
        },
        |rng| mutate_json_text(rng, &seed),
        Arc::new(|case: &Case| {
            // The converter's reader of the same file.
            let _ = SpecialTokens::from_tokenizer_json(&case.input);
            let tok = match WhisperTokenizer::from_bytes(&case.input) {
                Ok(t) => t.for_vocab_size(40),
                Err(e) => return Ok(Err(e.to_string())),
            };
            let _ = tok.prompt(None, Task::Transcribe);
            let _ = tok.decode(&[0, 1, 2, 3, tok.sot, tok.eot, tok.no_timestamps, u32::MAX]);
            let _ = tok.token_text(u32::MAX - 1);
            let _ = tok.vocab_size();
            Ok(Ok(()))
        }),
    );
}

#[test]
fn fuzz_ct2_model_bin() {
    let file = Ct2File::tiny_whisper(4, 1);
    let (seed, layout) = file.bytes();
    let config = inspect_ct2(
        &seed,
        TINY_CT2_TOKENIZER.as_bytes(),
        Some(TINY_CT2_CONFIG.as_bytes()),
    )
    .expect("the seed converts");
    assert_eq!((config.whisper.d_model, config.whisper.vocab_size), (4, 11));
    // Variables whose every value reaches model.safetensors: a NaN there must be refused.
    let poisonable: Vec<usize> = (file.vars.iter().enumerate())
        .filter(|(_, v)| v.dtype == 4 && !v.name.contains("linear_0/bias"))
        .filter(|(_, v)| !v.name.contains("attention/linear_1/bias"))
        .map(|(i, _)| i)
        .collect();
    campaign(
        4,
        Limits {
            iterations: 3000,
            per_case: Duration::from_secs(10),
            alloc_base: 4 << 20,
            alloc_per_input_byte: 16,
        },
        |rng| {
            // Which input: mostly model.bin, sometimes its tokenizer or config.
            let which = rng.random_range(0..10);
            let (bin, tok, cfg) = match which {
                0 => {
                    let c = mutate_json_text(rng, TINY_CT2_TOKENIZER.as_bytes());
                    return ct2_case(&seed, &c.input, TINY_CT2_CONFIG.as_bytes(), c.what, None);
                }
                1 => {
                    let c = mutate_json_text(rng, TINY_CT2_CONFIG.as_bytes());
                    return ct2_case(&seed, TINY_CT2_TOKENIZER.as_bytes(), &c.input, c.what, None);
                }
                _ => (seed.clone(), TINY_CT2_TOKENIZER, TINY_CT2_CONFIG),
            };
            let vi = rng.random_range(0..layout.vars.len());
            let (v, name) = (&layout.vars[vi], &file.vars[vi].name);
            let mut b = bin;
            let put = |b: &mut Vec<u8>, at: usize, bytes: &[u8]| {
                b[at..at + bytes.len()].copy_from_slice(bytes)
            };
            let (what, must) = match rng.random_range(0..9) {
                0 => {
                    let dims = (b[v.rank] as usize).max(1);
                    let which = rng.random_range(0..dims);
                    let d = *pick(rng, &[0u32, 1, 2, 0x7fff_ffff, u32::MAX, 1 << 20]);
                    if v.dims + 4 * which + 4 <= v.dtype {
                        put(&mut b, v.dims + 4 * which, &d.to_le_bytes());
                    }
                    (format!("{name}: dim {which} = {d}"), None)
                }
                1 => {
                    let code = *pick(rng, &[0u8, 1, 2, 3, 4, 5, 6, 0xff]);
                    b[v.dtype] = code;
                    (format!("{name}: dtype code {code}"), None)
                }
                2 => {
                    let n = *pick(rng, &[0u32, 1, 0x7fff_ffff, u32::MAX]);
                    put(&mut b, v.n_bytes, &n.to_le_bytes());
                    (format!("{name}: n_bytes = {n}"), None)
                }
                3 => {
                    let rank = *pick(rng, &[0u8, 1, 3, 8, 255]);
                    b[v.rank] = rank;
                    (format!("{name}: rank = {rank}"), None)
                }
                4 => {
                    let len = *pick(rng, &[0u16, 1, u16::MAX]);
                    put(&mut b, v.name_len, &len.to_le_bytes());
                    (format!("{name}: name length = {len}"), None)
                }
                5 => {
                    let (at, what) = *pick(
                        rng,
                        &[
                            (layout.count, "variable count"),
                            (layout.alias_count, "alias count"),
                        ],
                    );
                    let n = *pick(rng, &[0u32, 1, 1000, u32::MAX]);
                    put(&mut b, at, &n.to_le_bytes());
                    (format!("{what} = {n}"), None)
                }
                6 => {
                    // Poison one value of a variable the output keeps.
                    let i = *pick(rng, &poisonable);
                    let (var, at) = (&file.vars[i], &layout.vars[i]);
                    let element = rng.random_range(0..var.data.len() / 2);
                    let bits = non_finite_bits(rng, "F16").unwrap();
                    put(&mut b, at.data + 2 * element, &bits);
                    (
                        format!("{}[{element}] = non-finite", var.name),
                        Some(String::from("holds")),
                    )
                }
                _ => {
                    let c = mutate_bytes(rng, &b, layout.count + 64);
                    b = c.input;
                    (c.what, None)
                }
            };
            ct2_case(&b, tok.as_bytes(), cfg.as_bytes(), what, must)
        },
        Arc::new(|case: &Case| {
            let (bin, tok, cfg) = split3(&case.input);
            match inspect_ct2(bin, tok, Some(cfg)) {
                Ok(c)
                    if c.whisper.d_model == 0
                        || c.whisper.vocab_size == 0
                        || c.whisper.num_mel_bins == 0 =>
                {
                    Err(format!("accepted empty dimensions: {c:?}"))
                }
                Ok(_) => Ok(Ok(())),
                Err(e) => Ok(Err(e.to_string())),
            }
        }),
    );
}

/// The three converter inputs in one case: lengths, then the bytes.
fn ct2_case(bin: &[u8], tok: &[u8], cfg: &[u8], what: String, must: Option<String>) -> Case {
    let mut input = Vec::new();
    for part in [bin, tok, cfg] {
        input.extend((part.len() as u64).to_le_bytes());
    }
    for part in [bin, tok, cfg] {
        input.extend(part);
    }
    Case {
        input,
        what,
        must_refuse: must,
    }
}

fn split3(input: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let len = |i: usize| u64::from_le_bytes(input[8 * i..8 * i + 8].try_into().unwrap()) as usize;
    let (a, b) = (len(0), len(1));
    let rest = &input[24..];
    (&rest[..a], &rest[a..a + b], &rest[a + b..])
}

/// The audio check: any verdict, but decoded audio must be finite, non-empty and of a length
/// the input can account for.
fn check_audio(ext: &'static str) -> Arc<Check> {
    Arc::new(move |case: &Case| {
        let hint = case.input.len().is_multiple_of(2).then_some(ext);
        match decode_audio(&case.input, hint) {
            Err(e) => Ok(Err(e.to_string())),
            Ok(audio) => {
                if audio.samples.is_empty() || audio.samples.iter().any(|x| !x.is_finite()) {
                    return Err("decoded audio is empty or not finite".into());
                }
                if case.what.contains("non-finite") && audio.non_finite_samples == 0 {
                    return Err("non-finite samples were not counted".into());
                }
                Ok(Ok(()))
            }
        }
    })
}

/// WAV-specific edits of the fmt and data chunks, poisoned float samples, and byte mutations.
fn mutate_wav(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Case {
    let i = rng.random_range(0..seeds.len());
    let mut b = seeds[i].clone();
    let field = |b: &mut Vec<u8>, at: usize, v: u64, width: usize| {
        b[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
    };
    match rng.random_range(0..8) {
        0 => {
            let (at, width, name) = *pick(
                rng,
                &[
                    (20usize, 2usize, "format tag"),
                    (22, 2, "channels"),
                    (24, 4, "sample rate"),
                    (28, 4, "byte rate"),
                    (32, 2, "block align"),
                    (34, 2, "bits per sample"),
                    (40, 4, "data size"),
                    (4, 4, "RIFF size"),
                    (16, 4, "fmt size"),
                ],
            );
            let v = *pick(rng, &INTERESTING_U64) & if width == 2 { 0xffff } else { 0xffff_ffff };
            field(&mut b, at, v, width);
            Case::new(b, format!("seed {i}: {name} = {v}"))
        }
        1 if b[20] == 3 => {
            // A float WAV with NaN/inf samples decodes, with them replaced and counted.
            let n = (b.len() - 44) / 4;
            for _ in 0..rng.random_range(1..10) {
                let s = rng.random_range(0..n);
                let bits = non_finite_bits(rng, "F32").unwrap();
                b[44 + 4 * s..48 + 4 * s].copy_from_slice(&bits);
            }
            Case::new(b, format!("seed {i}: non-finite samples"))
        }
        2 => {
            // An extra chunk before the data, with a huge declared size.
            let size = *pick(rng, &[0u32, 1, 0x7fff_ffff, u32::MAX, u32::MAX - 1]);
            let mut chunk = b"LIST".to_vec();
            chunk.extend(size.to_le_bytes());
            chunk.extend(b"INFOjunk");
            b.splice(36..36, chunk);
            Case::new(b, format!("seed {i}: LIST chunk of declared size {size}"))
        }
        _ => {
            let mut c = mutate_bytes(rng, &b, 44);
            c.what = format!("seed {i}: {}", c.what);
            c
        }
    }
}

/// Limits for the audio campaigns: decoding is the slow parser here.
fn audio_limits(iterations: usize) -> Limits {
    Limits {
        iterations,
        per_case: Duration::from_secs(20),
        alloc_base: 64 << 20,
        alloc_per_input_byte: 256,
    }
}

/// A PyTorch checkpoint (zip + pickle) mutated as a whole, or in its pickle or a storage
/// record and zipped again (valid checksums, so the mutation reaches the pickle reader).
fn mutate_torch_checkpoint(rng: &mut StdRng, seed: &Checkpoint) -> Case {
    let mut ck = Checkpoint {
        archive: seed.archive.clone(),
        records: seed.records.clone(),
    };
    match rng.random_range(0..4) {
        0 => mutate_bytes(rng, &ck.to_bytes(), 256),
        1 => {
            // An int operand (sizes, strides, offsets, numel) made interesting.
            let pkl = ck.record_mut("data.pkl");
            let ints: Vec<usize> = (0..pkl.len()).filter(|&i| pkl[i] == b'K').collect();
            let at = *pick(rng, &ints);
            let v = *pick(rng, &INTERESTING_U64);
            pkl.splice(at..at + 2, [&[0x8a, 8][..], &v.to_le_bytes()].concat());
            Case::new(ck.to_bytes(), format!("pickle int at {at} = {v:#x}"))
        }
        2 => {
            let pkl = ck.record_mut("data.pkl");
            let case = mutate_bytes(rng, pkl, pkl.len());
            *pkl = case.input;
            Case::new(ck.to_bytes(), format!("data.pkl: {}", case.what))
        }
        _ => {
            let i = rng.random_range(0..ck.records.len());
            let (name, bytes) = &mut ck.records[i];
            let n = rng.random_range(0..bytes.len() + 8);
            bytes.resize(n, 0x41);
            let what = format!("record {name} resized to {n} bytes");
            Case::new(ck.to_bytes(), what)
        }
    }
}

#[test]
fn fuzz_torch_checkpoint() {
    let entries = distilwhisper_experts(&mut kit::rng(95), "catalan", (8, 16, 4), (1, 1));
    let seeds = [
        Checkpoint::save(&entries, Container::StateDict, Storage::Float),
        Checkpoint::save(&entries, Container::Dict, Storage::Half),
    ];
    campaign(
        9,
        Limits {
            iterations: 3000,
            per_case: Duration::from_secs(10),
            alloc_base: 4 << 20,
            alloc_per_input_byte: 4,
        },
        |rng| {
            let seed = &seeds[rng.random_range(0..2)];
            mutate_torch_checkpoint(rng, seed)
        },
        Arc::new(|case: &Case| {
            let reader = std::io::Cursor::new(&case.input);
            let mut checkpoint = match TorchCheckpoint::from_reader(reader, "fuzz.bin") {
                Ok(c) => c,
                Err(e) => return Ok(Err(e.to_string())),
            };
            for t in checkpoint.tensors().to_vec() {
                match checkpoint.read_f32(&t.name) {
                    Ok(values) if values.len() == t.numel() => {}
                    Ok(values) => {
                        return Err(format!(
                            "{}: {} values for shape {:?}",
                            t.name,
                            values.len(),
                            t.shape
                        ))
                    }
                    Err(e) => return Ok(Err(e.to_string())),
                }
            }
            Ok(Ok(()))
        }),
    );
}

#[test]
fn fuzz_wav() {
    let seeds = vec![
        wav(&signal(16_000, 1, 0.2), 1, 16_000, 1, 16),
        wav(&signal(44_100, 2, 0.1), 2, 44_100, 3, 32),
        wav(&signal(8_000, 1, 0.2), 1, 8_000, 1, 8),
        wav(&signal(22_050, 2, 0.1), 2, 22_050, 1, 24),
    ];
    for s in &seeds {
        decode_audio(s, Some("wav")).expect("the seeds decode");
    }
    campaign(
        5,
        audio_limits(1500),
        |rng| mutate_wav(rng, &seeds),
        check_audio("wav"),
    );
}

/// A campaign over one sox/lame-encoded container with byte mutations near the headers.
fn fuzz_encoded(id: usize, tool: &str, ext: &'static str, iterations: usize) {
    let seed = encode_with(tool, ext);
    decode_audio(&seed, Some(ext)).expect("the seed decodes");
    campaign(
        id,
        audio_limits(iterations),
        |rng| mutate_bytes(rng, &seed, 256),
        check_audio(ext),
    );
}

#[test]
fn fuzz_flac() {
    fuzz_encoded(6, "sox", "flac", 400);
}

#[test]
fn fuzz_mp3() {
    fuzz_encoded(7, "lame", "mp3", 300);
}

#[test]
fn fuzz_ogg() {
    fuzz_encoded(8, "sox", "ogg", 1000);
}

/// Writes the seeds of every campaign, plus the shared fixtures, as the cargo-fuzz corpus
/// under `$FUZZ_CORPUS_DIR/<target>/` (scripts/fuzz-corpus.sh runs it).
#[test]
#[ignore = "writes the cargo-fuzz corpus; run by scripts/fuzz-corpus.sh"]
fn write_fuzz_corpus() {
    let root = PathBuf::from(
        std::env::var_os("FUZZ_CORPUS_DIR").expect("set FUZZ_CORPUS_DIR to the corpus folder"),
    );
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let (config, f32_weights) = fuzz_model(safetensors::Dtype::F32);
    let (_, f16_weights) = fuzz_model(safetensors::Dtype::F16);
    put("model_safetensors", "tiny-f32.safetensors", &f32_weights);
    put("model_safetensors", "tiny-f16.safetensors", &f16_weights);
    put("config_json", "tiny.json", &config);
    put(
        "expert_pack",
        "f32.pack",
        &fuzz_pack(whisper_clsr::gpu::DType::F32),
    );
    put(
        "expert_pack",
        "f16.pack",
        &fuzz_pack(whisper_clsr::gpu::DType::F16),
    );
    put("tokenizer_json", "small.json", &fuzz_tokenizer());
    put(
        "tokenizer_json",
        "ct2-added-tokens.json",
        TINY_CT2_TOKENIZER.as_bytes(),
    );
    put(
        "ct2_model_bin",
        "tiny.bin",
        &Ct2File::tiny_whisper(4, 1).bytes().0,
    );
    put(
        "ct2_model_bin",
        "tiny-2-layers.bin",
        &Ct2File::tiny_whisper(8, 2).bytes().0,
    );
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for name in ["whisper-tiny.en", "whisper-base"] {
        for (file, target) in [
            ("config.json", "config_json"),
            ("tokenizer.json", "tokenizer_json"),
        ] {
            if let Ok(bytes) = std::fs::read(models.join(name).join(file)) {
                put(target, &format!("{name}-{file}"), &bytes);
            }
        }
    }
    let (jfk, _) = kit::fixtures::jfk();
    put("audio", "jfk.wav", &std::fs::read(jfk).unwrap());
    put(
        "audio",
        "i16-16k.wav",
        &wav(&signal(16_000, 1, 0.2), 1, 16_000, 1, 16),
    );
    put(
        "audio",
        "f32-44k-stereo.wav",
        &wav(&signal(44_100, 2, 0.1), 2, 44_100, 3, 32),
    );
    put(
        "audio",
        "u8-8k.wav",
        &wav(&signal(8_000, 1, 0.2), 1, 8_000, 1, 8),
    );
    put("audio", "clip.flac", &encode_with("sox", "flac"));
    put("audio", "clip.mp3", &encode_with("lame", "mp3"));
    put("audio", "clip.ogg", &encode_with("sox", "ogg"));
    // Headers a byte mutator rarely builds: well-formed pages around declared sizes.
    let comments = vorbis_comments(4, &[4]);
    put(
        "audio",
        "huge-comment.ogg",
        &crafted_ogg(
            &vorbis_comments(4, &[u32::MAX - 7]),
            &vorbis_setup(16, 2, 0),
        ),
    );
    put(
        "audio",
        "huge-codebook.ogg",
        &crafted_ogg(&comments, &vorbis_setup((1 << 24) - 1, 31, 1)),
    );
    put(
        "tokenizer_json",
        "precompiled.json",
        &with_precompiled(&map_a(169, 0), b"x\0"),
    );
}

// ---------------------------------------------------------------------------------------------
// Regression cases: inputs that broke a loader, kept as found (or minimised).

/// Runs `f` on a thread with the allocation cap and a time bound; its verdict.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    count_panics();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        LARGEST.with(|l| l.set(0));
        let out = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send((out.map_err(|_| "panicked"), LARGEST.with(|l| l.get())));
    });
    let (out, largest) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("finished within 20 s");
    assert!(largest < 64 << 20, "allocated {largest} bytes at once");
    out.unwrap()
}

/// A CTranslate2 encoder position table declared as [4294967295, 0] holds no bytes, so the
/// parser accepted it; the converter then computed 4294967295 × d_model sinusoids to compare
/// with it (an allocation of 64 GiB for d_model 4, an abort). Now the table's shape is
/// checked first.
#[test]
fn regression_ct2_empty_position_table_with_huge_declared_length() {
    let mut file = Ct2File::tiny_whisper(4, 1);
    let table = file
        .vars
        .iter_mut()
        .find(|v| v.name == "encoder/position_encodings/encodings")
        .unwrap();
    table.dims = vec![u32::MAX, 0];
    table.data.clear();
    let bin = file.bytes().0;
    let err = bounded(move || {
        inspect_ct2(&bin, TINY_CT2_TOKENIZER.as_bytes(), None)
            .unwrap_err()
            .to_string()
    });
    assert!(
        err.contains("encoder/position_encodings/encodings")
            && err.contains("[4294967295, 0]")
            && err.contains("[4294967295, 4]"),
        "{err}"
    );
}

/// A variable named `encoder/layer_18446744073709551615/...` made the layer count overflow
/// (a panic in debug builds, a layer count of 0 after wrapping in release).
#[test]
fn regression_ct2_layer_index_at_usize_max() {
    let mut file = Ct2File::tiny_whisper(4, 1);
    file.f16(
        &format!("encoder/layer_{}/ffn/layer_norm/gamma", usize::MAX),
        &[4],
        &[1.0; 4],
    );
    let bin = file.bytes().0;
    let err = bounded(move || {
        inspect_ct2(&bin, TINY_CT2_TOKENIZER.as_bytes(), None)
            .unwrap_err()
            .to_string()
    });
    assert!(err.contains("encoder/layer_1/"), "{err}");
}

/// `max_source_positions` near 2^63 overflowed the check `max_source_positions * 2 ==
/// 3000` (a panic in debug builds; in release 2^63 + 1500 wrapped to pass it).
#[test]
fn regression_config_max_source_positions_overflow() {
    let (config, _) = fuzz_model(safetensors::Dtype::F16);
    let mut json: Value = serde_json::from_slice(&config).unwrap();
    for value in [u64::MAX, (1u64 << 63) + 1500] {
        json["max_source_positions"] = value.into();
        let text = json.to_string();
        let err = bounded(move || {
            WhisperConfig::from_json(text.as_bytes())
                .unwrap_err()
                .to_string()
        });
        assert!(
            err.contains(&format!("max_source_positions = {value}")),
            "{err}"
        );
    }
}

/// A float WAV with NaN samples was refused outright; one damaged sample should not make a
/// recording untranscribable. They are now silence, and counted.
#[test]
fn regression_nan_samples_in_float_wav_are_silenced_and_counted() {
    let mut samples = signal(16_000, 1, 0.05);
    samples[10] = f32::NAN;
    samples[11] = f32::NEG_INFINITY;
    let audio = decode_audio(&wav(&samples, 1, 16_000, 3, 32), Some("wav")).unwrap();
    assert_eq!(audio.non_finite_samples, 2);
    assert_eq!(audio.samples[10..12], [0.0, 0.0]);
    assert_eq!(audio.samples[12], samples[12]);
}

/// One stereo float frame at 44.1 kHz resamples to no sample at 16 kHz: found by `fuzz_wav` as
/// an accepted file with empty audio. It is now refused as too short.
#[test]
fn regression_one_frame_at_44k_is_too_short_not_empty_audio() {
    let one_frame = wav(&[0.1, -0.1], 2, 44_100, 3, 32);
    let e = decode_audio(&one_frame, Some("wav"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("too short") && e.contains("44100 Hz"), "{e}");
    let three_frames = wav(&[0.1; 6], 2, 44_100, 3, 32);
    assert_eq!(
        decode_audio(&three_frames, Some("wav"))
            .unwrap()
            .samples
            .len(),
        1
    );
}

/// symphonia allocates the length a FLAC VORBIS_COMMENT entry declares (up to 4 GiB) before
/// reading it: found by `fuzz_flac` as an abort. Comment and picture blocks are now skipped.
#[test]
fn regression_flac_comment_with_huge_declared_length() {
    let mut flac = encode_with("sox", "flac");
    let mut pos = 4;
    let comment = loop {
        let (kind, len) = (
            flac[pos] & 0x7f,
            u32::from_be_bytes([0, flac[pos + 1], flac[pos + 2], flac[pos + 3]]) as usize,
        );
        if kind == 4 {
            break pos + 4;
        }
        assert_eq!(flac[pos] & 0x80, 0, "sox wrote no VORBIS_COMMENT block");
        pos += 4 + len;
    };
    let vendor = u32::from_le_bytes(flac[comment..comment + 4].try_into().unwrap()) as usize;
    let entries = comment + 4 + vendor;
    flac[entries..entries + 4].copy_from_slice(&1u32.to_le_bytes());
    flac[entries + 4..entries + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let audio = bounded(move || decode_audio(&flac, Some("flac")).unwrap());
    assert!(
        audio.samples.len() > 4000,
        "{} samples",
        audio.samples.len()
    );
}

/// The same in a WAV `LIST`/`INFO` chunk (symphonia: "TODO: Apply limit"): a RIFF and a LIST
/// declaring 4 GiB let an INFO entry declare nearly that much, allocated before reading.
/// `LIST` chunks are now skipped unread, so this file is just truncated.
#[test]
fn regression_wav_info_entry_with_huge_declared_length() {
    let clip = wav(&signal(16_000, 1, 0.1), 1, 16_000, 1, 16);
    let mut list = b"LIST".to_vec();
    list.extend(0xffff_ff00u32.to_le_bytes());
    list.extend(b"INFOINAM");
    list.extend(0xffff_0000u32.to_le_bytes());
    list.extend(b"name");
    let mut bytes = clip.clone();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes.splice(36..36, list);
    let err = bounded(move || decode_audio(&bytes, Some("wav")).unwrap_err().to_string());
    assert!(err.contains("audio"), "{err}");

    // A well-formed LIST chunk is skipped and the audio decodes as without it.
    let mut list = b"LIST".to_vec();
    list.extend(16u32.to_le_bytes());
    list.extend(b"INFOINAM");
    list.extend(4u32.to_le_bytes());
    list.extend(b"name");
    let mut bytes = clip.clone();
    let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) + 24;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    bytes.splice(36..36, list);
    let audio = bounded(move || decode_audio(&bytes, Some("wav")).unwrap());
    assert_eq!(
        audio.samples,
        decode_audio(&clip, Some("wav")).unwrap().samples
    );
}

/// And in an ID3v2 frame before MP3 audio.
#[test]
fn regression_id3_frame_with_huge_declared_length() {
    let mp3 = encode_with("lame", "mp3");
    let mut tagged = b"ID3\x03\x00\x00".to_vec();
    tagged.extend([0, 0, 0, 20]); // synchsafe tag size
    tagged.extend(b"TIT2");
    tagged.extend(0x7fff_fff0u32.to_be_bytes());
    tagged.extend([0, 0]);
    tagged.extend([0u8; 10]);
    tagged.extend(&mp3);
    let audio = bounded(move || decode_audio(&tagged, Some("mp3")).unwrap());
    assert_eq!(
        audio.samples,
        decode_audio(&mp3, Some("mp3")).unwrap().samples
    );
}

/// tokenizers 0.22 panics (`expect("Helper")`) on a JSON syntax error inside the "decoder"
/// object: found by `fuzz_tokenizer_json`. The syntax is now checked first.
#[test]
fn regression_tokenizer_json_cut_inside_the_decoder() {
    let json = fuzz_tokenizer();
    let at = json.windows(10).position(|w| w == b"\"decoder\":").unwrap();
    for cut in [at + 12, at + 30] {
        let mut bytes = json[..cut].to_vec();
        let err = bounded(move || {
            WhisperTokenizer::from_bytes(&bytes)
                .err()
                .unwrap()
                .to_string()
        });
        assert!(err.contains("not valid JSON"), "{err}");
        // A control character inside a string of the decoder, with the rest intact.
        bytes = json.clone();
        bytes[at + 14] = 0x01;
        let err = bounded(move || {
            WhisperTokenizer::from_bytes(&bytes)
                .err()
                .unwrap()
                .to_string()
        });
        assert!(err.contains("not valid JSON"), "{err}");
    }
}

/// tokenizers 0.22 panics (`start byte index … out of bounds`) when a BPE model's
/// `continuing_subword_prefix` is longer than a merge's second token: found by
/// `fuzz_tokenizer_json`. Such files are now refused.
#[test]
fn regression_tokenizer_subword_prefix_longer_than_a_merge() {
    let mut json: Value = serde_json::from_slice(&fuzz_tokenizer()).unwrap();
    json["model"]["continuing_subword_prefix"] = "x".repeat(40).into();
    let bytes = serde_json::to_vec(&json).unwrap();
    let err = bounded(move || {
        WhisperTokenizer::from_bytes(&bytes)
            .err()
            .unwrap()
            .to_string()
    });
    assert!(
        err.contains("continuing_subword_prefix") && err.contains("\"Ġ t\""),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// OGG Vorbis headers declaring absurd sizes, built from scratch (valid pages and CRCs, so the
// decoder reaches the headers): each must be an error, decided without a large allocation.

/// Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0.
fn ogg_crc(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |mut crc, &byte| {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// One Ogg page holding whole `packets` (each under 255 × 255 bytes).
fn ogg_page(sequence: u32, flags: u8, packets: &[&[u8]]) -> Vec<u8> {
    let mut table = Vec::new();
    for p in packets {
        table.extend(std::iter::repeat_n(255u8, p.len() / 255));
        table.push((p.len() % 255) as u8);
    }
    let mut page = b"OggS\0".to_vec();
    page.push(flags);
    page.extend(0u64.to_le_bytes()); // granule position
    page.extend(0x5eed_u32.to_le_bytes()); // stream serial
    page.extend(sequence.to_le_bytes());
    page.extend(0u32.to_le_bytes()); // CRC, filled in below
    page.push(table.len() as u8);
    page.extend(table);
    for p in packets {
        page.extend(*p);
    }
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// Vorbis's LSB-first bit packing, for the setup header.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bit: usize,
}

impl BitWriter {
    fn put(&mut self, value: u64, n: u32) -> &mut Self {
        for i in 0..n {
            if self.bit.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (((value >> i) & 1) as u8) << (self.bit % 8);
            self.bit += 1;
        }
        self
    }
}

fn vorbis_ident() -> Vec<u8> {
    let mut p = b"\x01vorbis".to_vec();
    p.extend(0u32.to_le_bytes()); // version
    p.push(1); // channels
    p.extend(16_000u32.to_le_bytes());
    p.extend([0u8; 12]); // bitrates
    p.push(0xb8); // block sizes 2^8 and 2^11
    p.push(1); // framing
    p
}

/// A comment header: vendor string of `vendor` declared bytes, then comments of the
/// declared `lengths`, each followed by only 4 real bytes.
fn vorbis_comments(vendor: u32, lengths: &[u32]) -> Vec<u8> {
    let mut p = b"\x03vorbis".to_vec();
    p.extend(vendor.to_le_bytes());
    p.extend(b"sox!".iter().take(vendor.min(4) as usize));
    p.extend((lengths.len() as u32).to_le_bytes());
    for &len in lengths {
        p.extend(len.to_le_bytes());
        p.extend(b"A=bc");
    }
    p.push(1); // framing
    p
}

/// A setup header whose one codebook has `entries` × `dims` and a vector lookup table of
/// `lookup_type`: length-ordered code lengths describe any number of entries in a few bits,
/// and lookup type 1 needs one stored value, so a tiny packet declares a huge table.
fn vorbis_setup(entries: u32, dims: u16, lookup_type: u64) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(0, 8) // one codebook
        .put(0x564342, 24)
        .put(u64::from(dims), 16)
        .put(u64::from(entries), 24)
        .put(1, 1) // length-ordered
        .put(0, 5) // first length 1
        .put(u64::from(entries), 32 - entries.leading_zeros()) // all entries that length
        .put(lookup_type, 4)
        .put(0, 32) // minimum
        .put(0, 32) // delta
        .put(0, 4) // 1-bit values
        .put(0, 1);
    let values = if lookup_type == 1 {
        1
    } else {
        u64::from(entries) * u64::from(dims)
    };
    for _ in 0..values.min(64) {
        w.put(0, 1);
    }
    let mut p = b"\x05vorbis".to_vec();
    p.extend(w.bytes);
    p
}

fn crafted_ogg(comments: &[u8], setup: &[u8]) -> Vec<u8> {
    let mut file = ogg_page(0, 0x02, &[&vorbis_ident()]);
    file.extend(ogg_page(1, 0x00, &[comments, setup]));
    file.extend(ogg_page(2, 0x04, &[&[0u8; 8]]));
    file
}

#[test]
fn ogg_vorbis_with_absurd_declared_sizes_is_an_error_without_allocating_them() {
    let setup = vorbis_setup(16, 2, 0);
    let comments = vorbis_comments(4, &[4]);
    let cases = [
        (
            "comment of 4 GiB",
            crafted_ogg(&vorbis_comments(4, &[4, u32::MAX - 7]), &setup),
            "comment of 4294967288 bytes",
        ),
        (
            "vendor string of 4 GiB",
            crafted_ogg(&vorbis_comments(u32::MAX, &[]), &setup),
            "vendor string of 4294967295 bytes",
        ),
        (
            "codebook of 2^24 entries × 31 dimensions, lookup type 1 (a 2 GB table)",
            crafted_ogg(&comments, &vorbis_setup((1 << 24) - 1, 31, 1)),
            "16777215 entries of 31 dimensions",
        ),
        (
            "codebook of 2^24 entries × 65535 dimensions, lookup type 1",
            crafted_ogg(&comments, &vorbis_setup((1 << 24) - 1, 65535, 1)),
            "16777215 entries of 65535 dimensions",
        ),
        (
            "codebook of 2^20 entries × 4096 dimensions, lookup type 2",
            crafted_ogg(&comments, &vorbis_setup(1 << 20, 4096, 2)),
            "1048576 entries of 4096 dimensions",
        ),
    ];
    for (what, file, named) in cases {
        LARGEST.with(|l| l.set(0));
        let err = match decode_audio(&file, Some("ogg")) {
            Ok(_) => panic!("{what}: decoded"),
            Err(e) => e.to_string(),
        };
        let largest = LARGEST.with(|l| l.get());
        assert!(
            err.contains("OGG Vorbis headers are corrupt") && err.contains(named),
            "{what}: {err}"
        );
        assert!(
            largest < 1 << 20,
            "{what}: allocated {largest} bytes before refusing"
        );
    }
    // The scan lets plausible headers through to the decoder.
    let plain = crafted_ogg(&comments, &setup);
    if let Err(e) = decode_audio(&plain, Some("ogg")) {
        assert!(!e.to_string().contains("OGG Vorbis headers"), "{e}");
    }
    let seed = encode_with("sox", "ogg");
    decode_audio(&seed, Some("ogg")).expect("a real OGG Vorbis file decodes");
}

// ---------------------------------------------------------------------------------------------
// tokenizer.json with a Precompiled normalizer (SentencePiece's character map): corrupt trie
// data is an error naming the file, not a panic inside the tokenizers crate.

/// A tokenizer.json (the fuzz seed) with a Precompiled normalizer of `trie` units and
/// `strings`, and an added token marked `normalized`, which tokenizers normalizes (looks up
/// in the trie) while loading.
fn with_precompiled(trie: &[u32], strings: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut charsmap = ((trie.len() * 4) as u32).to_le_bytes().to_vec();
    for unit in trie {
        charsmap.extend(unit.to_le_bytes());
    }
    charsmap.extend(strings);
    let mut json: Value = serde_json::from_slice(&fuzz_tokenizer()).unwrap();
    json["normalizer"] = serde_json::json!({
        "type": "Precompiled",
        "precompiled_charsmap": base64::engine::general_purpose::STANDARD.encode(&charsmap),
    });
    json["added_tokens"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": 39, "content": "ab", "single_word": false, "lstrip": false, "rstrip": false,
            "normalized": true, "special": false
        }));
    serde_json::to_vec(&json).unwrap()
}

/// One 256-unit block of a double-array trie mapping "a" to the string at `value`: the root
/// (offset 0), the node for 'a' (label 97) with a leaf at 97 ^ `leaf_offset`, and that leaf.
fn map_a(leaf_offset: u32, value: u32) -> Vec<u32> {
    let mut trie = vec![0u32; 256];
    trie[97] = (leaf_offset << 10) | (1 << 8) | 97;
    let leaf = (97 ^ leaf_offset) as usize;
    if leaf < trie.len() {
        trie[leaf] = value;
    }
    trie
}

#[test]
fn corrupt_precompiled_normalizer_is_an_error_naming_the_file() {
    count_panics();
    // A well-formed map ("a" → "x") loads.
    let good = with_precompiled(&map_a(169, 0), b"x\0");
    WhisperTokenizer::from_bytes(&good).expect("a well-formed Precompiled normalizer loads");

    let cases: [(&str, Vec<u32>, &[u8]); 4] = [
        ("an empty trie", vec![], b"x\0"),
        ("a leaf outside the trie", map_a(1000, 0), b"x\0"),
        ("a replacement past the strings", map_a(169, 77), b"x\0"),
        (
            "a replacement inside a character",
            map_a(169, 1),
            "é\0".as_bytes(),
        ),
    ];
    for (what, trie, strings) in cases {
        let json = with_precompiled(&trie, strings);
        PANICS.with(|p| p.set(0));
        let result = catch_unwind(AssertUnwindSafe(|| WhisperTokenizer::from_bytes(&json)));
        let err = match result {
            Err(_) => panic!("{what}: loading panicked"),
            Ok(Ok(_)) => panic!("{what}: loaded"),
            Ok(Err(e)) => e.to_string(),
        };
        assert!(
            err.contains("tokenizer.json") && err.contains("Precompiled"),
            "{what}: {err}"
        );
        assert_eq!(
            PANICS.with(|p| p.get()),
            0,
            "{what}: a panic was caught on the way"
        );
    }
}

/// A PyTorch checkpoint whose zip directory declares `data.pkl` 64 MiB long (its real
/// length is a few KiB): the reader allocated the declared size before reading (found by
/// `fuzz_torch_checkpoint`). A stored record longer than the file is now refused first.
#[test]
fn regression_torch_pickle_record_with_huge_declared_length() {
    let entries = distilwhisper_experts(&mut kit::rng(96), "catalan", (8, 16, 4), (1, 1));
    let mut zip = Checkpoint::save(&entries, Container::StateDict, Storage::Float).to_bytes();
    // The first central directory entry is data.pkl's; its uncompressed size is at +24.
    let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    assert_eq!(&zip[central + 46..central + 62], b"archive/data.pkl");
    zip[central + 24..central + 28].copy_from_slice(&(64u32 << 20).to_le_bytes());
    let err = bounded(move || {
        TorchCheckpoint::from_reader(std::io::Cursor::new(zip), "huge.bin")
            .err()
            .expect("refused")
            .to_string()
    });
    assert!(
        err.contains("huge.bin") && err.contains("data.pkl") && err.contains("67108864"),
        "{err}"
    );
}
