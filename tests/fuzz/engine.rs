//! A small corpus-seeded mutation fuzzer that runs on the stable toolchain
//! (cargo-fuzz needs nightly, which this project cannot download).
//!
//! Each target is a function from bytes to an "outcome" signature. The loop
//! first replays every seed unchanged, then picks a corpus entry, applies 1-4
//! stacked mutations and runs the target under `catch_unwind`. An input whose
//! outcome signature was never seen before joins the corpus (a cheap stand-in
//! for coverage feedback). A watchdog thread flags any input that runs longer
//! than the per-input bound as a hang. Panicking, hanging and the slowest
//! inputs are written to the crash directory so they can be replayed.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// splitmix64: tiny, fast, and good enough to drive mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Runs one input and returns its outcome signature.
pub type RunFn = Box<dyn FnMut(&[u8]) -> u64>;

/// What a target tells the mutator about an input.
pub struct Target {
    pub name: &'static str,
    pub seeds: Vec<Vec<u8>>,
    /// Inputs are cut to this length after mutation.
    pub max_len: usize,
    /// Line-oriented text (SDP): enables the line mutations and dictionary.
    pub text: bool,
    /// Extra tokens / lines for the mutator.
    pub dict: Vec<Vec<u8>>,
    /// Runs one input; the returned value is its outcome signature.
    pub run: RunFn,
    /// Called after a caught panic, so stateful targets start afresh.
    pub reset: Box<dyn FnMut()>,
    /// Free-form figures the target wants in the report.
    pub notes: Box<dyn Fn() -> String>,
}

/// Run budget, from the environment (see scripts/fuzz.sh).
pub struct Budget {
    pub inputs: u64,
    pub secs: f64,
    pub seed: u64,
    pub hang: Duration,
    pub crash_dir: PathBuf,
}

impl Budget {
    /// `SIPWIRE_FUZZ_INPUTS` (per target), `SIPWIRE_FUZZ_SECS` (per target,
    /// whichever comes first), `SIPWIRE_FUZZ_SEED`, `SIPWIRE_FUZZ_HANG_MS`,
    /// `SIPWIRE_FUZZ_CRASH_DIR`. Defaults are the short CI slice.
    pub fn from_env(name: &str) -> Budget {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // A per-target override, e.g. SIPWIRE_FUZZ_INPUTS_PEER_DATAGRAM.
        let per = |k: &str| var(&format!("{k}_{}", name.to_ascii_uppercase())).or_else(|| var(k));
        let seed = per("SIPWIRE_FUZZ_SEED")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        Budget {
            inputs: per("SIPWIRE_FUZZ_INPUTS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX),
            secs: per("SIPWIRE_FUZZ_SECS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(2.0),
            seed,
            hang: Duration::from_millis(
                var("SIPWIRE_FUZZ_HANG_MS")
                    .and_then(|s| s.parse().ok())
                    // Unoptimised builds (the CI slice) are ~20x slower.
                    .unwrap_or(if cfg!(debug_assertions) { 10_000 } else { 2000 }),
            ),
            crash_dir: var("SIPWIRE_FUZZ_CRASH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes")
                }),
        }
    }
}

/// Figures of one target's run.
pub struct Report {
    pub name: &'static str,
    pub inputs: u64,
    pub elapsed: Duration,
    pub panics: u64,
    pub unique_panics: Vec<String>,
    pub hangs: u64,
    /// The slowest input re-timed (best of 3 re-runs of the 8 slowest by
    /// wall time): on a shared machine the raw maximum is mostly scheduling.
    pub slowest: Duration,
    pub slowest_wall: Duration,
    pub slowest_len: usize,
    pub slowest_path: Option<PathBuf>,
    pub corpus: usize,
    pub outcomes: usize,
    pub saved: Vec<PathBuf>,
    pub notes: String,
    pub seed: u64,
}

impl Report {
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "fuzz {:<15} inputs={:<8} time={:>6.1}s rate={:>7.0}/s panics={} hangs={} slowest={:.3}ms ({} bytes{}; wall max {:.1}ms) corpus={} outcomes={} seed={}{}",
            self.name,
            self.inputs,
            secs,
            self.inputs as f64 / secs.max(1e-9),
            self.panics,
            self.hangs,
            self.slowest.as_secs_f64() * 1000.0,
            self.slowest_len,
            self.slowest_path
                .as_ref()
                .map(|p| format!(", {}", p.display()))
                .unwrap_or_default(),
            self.slowest_wall.as_secs_f64() * 1000.0,
            self.corpus,
            self.outcomes,
            self.seed,
            if self.notes.is_empty() {
                String::new()
            } else {
                format!(" [{}]", self.notes)
            },
        )
    }
}

thread_local! {
    static IN_FUZZ: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Panics inside a fuzz input are recorded (message and location), not
/// printed one by one; elsewhere the default hook runs.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_FUZZ.with(|f| f.get()) {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic>".into());
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg} at {at}")));
            } else {
                default(info);
            }
        }));
    });
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn save(dir: &PathBuf, kind: &str, target: &str, data: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let p = dir.join(format!("{kind}-{target}-{:016x}.bin", fnv(data)));
    std::fs::write(&p, data).ok()?;
    Some(p)
}

/// State shared with the watchdog: when the current input started (ns since
/// `origin`, 0 = idle), its bytes, and a sequence number so one slow input is
/// reported once.
struct Watch {
    started_ns: AtomicU64,
    seq: AtomicU64,
    input: Mutex<Vec<u8>>,
    hangs: Mutex<Vec<(u64, Duration, PathBuf)>>,
    stop: AtomicBool,
}

/// Run `t` within `b`, printing and returning the figures.
pub fn run(mut t: Target, b: &Budget) -> Report {
    install_hook();
    let origin = Instant::now();
    let watch = Arc::new(Watch {
        started_ns: AtomicU64::new(0),
        seq: AtomicU64::new(0),
        input: Mutex::new(Vec::new()),
        hangs: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let dog = {
        let w = watch.clone();
        let (hang, dir, name) = (b.hang, b.crash_dir.clone(), t.name);
        std::thread::spawn(move || {
            let mut reported = u64::MAX;
            while !w.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(25));
                let s = w.started_ns.load(Ordering::Acquire);
                if s == 0 {
                    continue;
                }
                let running = origin.elapsed().saturating_sub(Duration::from_nanos(s));
                let seq = w.seq.load(Ordering::Acquire);
                if running > hang && seq != reported {
                    reported = seq;
                    let data = w.input.lock().unwrap().clone();
                    let p = save(&dir, "hang", name, &data).unwrap_or_default();
                    eprintln!(
                        "fuzz {name}: HANG input #{seq} ({} bytes) running for {:?}, saved to {}",
                        data.len(),
                        running,
                        p.display()
                    );
                    w.hangs.lock().unwrap().push((seq, running, p));
                }
                // A genuine infinite loop never returns: give up on the run.
                if running > hang * 15 {
                    eprintln!(
                        "fuzz {name}: input #{seq} still running after {running:?}; aborting"
                    );
                    std::process::exit(3);
                }
            }
        })
    };

    let mut rng = Rng::new(b.seed);
    let mut corpus: Vec<Vec<u8>> = t.seeds.clone();
    let mut outcomes: HashSet<u64> = HashSet::new();
    let mut panics = 0u64;
    let mut unique: HashMap<String, PathBuf> = HashMap::new();
    let mut saved = Vec::new();
    // The 8 slowest inputs by wall time, re-timed at the end.
    let mut top: Vec<(Duration, Vec<u8>)> = Vec::new();
    let deadline = origin + Duration::from_secs_f64(b.secs);
    let mut n = 0u64;
    let mut input = Vec::with_capacity(t.max_len);
    while n < b.inputs
        && (!n.is_multiple_of(64) || Instant::now() < deadline || n < t.seeds.len() as u64)
    {
        input.clear();
        if (n as usize) < t.seeds.len() {
            input.extend_from_slice(&t.seeds[n as usize]);
        } else {
            input.extend_from_slice(&corpus[rng.below(corpus.len())]);
            let rounds = 1 + rng.below(4);
            for _ in 0..rounds {
                mutate(&mut input, &corpus, &t, &mut rng);
            }
            input.truncate(t.max_len);
        }
        {
            let mut w = watch.input.lock().unwrap();
            w.clear();
            w.extend_from_slice(&input);
        }
        watch.seq.store(n, Ordering::Release);
        let start = Instant::now();
        watch
            .started_ns
            .store((start - origin).as_nanos().max(1) as u64, Ordering::Release);
        IN_FUZZ.with(|f| f.set(true));
        let r = catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
        IN_FUZZ.with(|f| f.set(false));
        let took = start.elapsed();
        watch.started_ns.store(0, Ordering::Release);
        match r {
            Ok(sig) => {
                if outcomes.insert(sig) && corpus.len() < 4096 {
                    corpus.push(input.clone());
                }
            }
            Err(_) => {
                panics += 1;
                let msg = LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| "<no message>".into());
                if let std::collections::hash_map::Entry::Vacant(slot) = unique.entry(msg) {
                    let msg = slot.key();
                    let p = save(&b.crash_dir, "panic", t.name, &input).unwrap_or_default();
                    eprintln!(
                        "fuzz {}: PANIC on input #{n} ({} bytes): {msg}; saved to {}",
                        t.name,
                        input.len(),
                        p.display()
                    );
                    saved.push(p.clone());
                    slot.insert(p);
                }
                let _ = catch_unwind(AssertUnwindSafe(|| (t.reset)()));
            }
        }
        if top.len() < 8 || took > top[top.len() - 1].0 {
            if top.len() == 8 {
                top.pop();
            }
            let at = top.partition_point(|(d, _)| *d >= took);
            top.insert(at, (took, input.clone()));
        }
        n += 1;
    }
    let elapsed = origin.elapsed();
    watch.stop.store(true, Ordering::Relaxed);
    let _ = dog.join();
    let hangs = watch.hangs.lock().unwrap();
    saved.extend(hangs.iter().map(|h| h.2.clone()));
    let slowest_wall = top.first().map(|t| t.0).unwrap_or_default();
    let (mut slowest, mut slowest_input) = (Duration::ZERO, Vec::new());
    for (_, inp) in &top {
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                IN_FUZZ.with(|f| f.set(true));
                let _ = catch_unwind(AssertUnwindSafe(|| (t.run)(inp)));
                IN_FUZZ.with(|f| f.set(false));
                start.elapsed()
            })
            .min()
            .unwrap_or_default();
        if best >= slowest {
            slowest = best;
            slowest_input.clone_from(inp);
        }
    }
    let slowest_path = save(&b.crash_dir, "slowest", t.name, &slowest_input);
    let rep = Report {
        name: t.name,
        inputs: n,
        elapsed,
        panics,
        unique_panics: unique.keys().cloned().collect(),
        hangs: hangs.len() as u64,
        slowest,
        slowest_wall,
        slowest_len: slowest_input.len(),
        slowest_path,
        corpus: corpus.len(),
        outcomes: outcomes.len(),
        saved,
        notes: (t.notes)(),
        seed: b.seed,
    };
    println!("{}", rep.line());
    rep
}

/// Replay files (or every file of a directory) through a target; used to
/// reproduce a saved crash: `SIPWIRE_FUZZ_REPLAY=path`.
pub fn replay(mut t: Target, path: &std::path::Path) -> usize {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let start = Instant::now();
        (t.run)(&data);
        println!(
            "replayed {} ({} bytes) in {:?}",
            f.display(),
            data.len(),
            start.elapsed()
        );
    }
    files.len()
}

const INTERESTING_NUMS: &[&str] = &[
    "0",
    "1",
    "-1",
    "127",
    "128",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e9",
    "0x10",
    "",
];

const INTERESTING_BYTES: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b' ', b'\r', b'\n', b'/', b':', b'=', 0xc3,
];

fn mutate(input: &mut Vec<u8>, corpus: &[Vec<u8>], t: &Target, rng: &mut Rng) {
    let ops = if t.text { 16 } else { 11 };
    match rng.below(ops) {
        0 => {
            // bit flip
            if !input.is_empty() {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // interesting byte
            if !input.is_empty() {
                let i = rng.below(input.len());
                input[i] = *rng.pick(INTERESTING_BYTES);
            }
        }
        2 => {
            // insert random bytes, or a run of one byte
            let i = rng.below(input.len() + 1);
            if rng.chance(4) {
                let b = rng.next() as u8;
                let len = 1 + rng.below(512);
                input.splice(i..i, std::iter::repeat_n(b, len));
            } else {
                let len = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                input.splice(i..i, bytes);
            }
        }
        3 => {
            // delete a range
            if !input.is_empty() {
                let i = rng.below(input.len());
                let len = 1 + rng.below((input.len() - i).min(64));
                input.drain(i..i + len);
            }
        }
        4 => {
            // duplicate a range elsewhere
            if !input.is_empty() {
                let i = rng.below(input.len());
                let len = 1 + rng.below((input.len() - i).min(128));
                let chunk = input[i..i + len].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
        }
        5 => {
            // splice with another corpus entry: our head + its tail
            let other = rng.pick(corpus);
            if !other.is_empty() {
                let cut = rng.below(input.len() + 1);
                let from = rng.below(other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
        }
        6 => {
            // binary integer tweak: u8/u16/u32 big-endian at a random offset
            if !input.is_empty() {
                let i = rng.below(input.len());
                let width = [1usize, 2, 4][rng.below(3)].min(input.len() - i);
                let mut v = 0u64;
                for k in 0..width {
                    v = (v << 8) | input[i + k] as u64;
                }
                let max = (1u64 << (8 * width)) - 1;
                v = match rng.below(5) {
                    0 => v.wrapping_add(1 + rng.below(16) as u64),
                    1 => v.wrapping_sub(1 + rng.below(16) as u64),
                    2 => 0,
                    3 => max,
                    _ => input.len() as u64,
                } & max;
                for k in 0..width {
                    input[i + k] = (v >> (8 * (width - 1 - k))) as u8;
                }
            }
        }
        7 => {
            // truncate
            if !input.is_empty() {
                let at = rng.below(input.len());
                input.truncate(at);
            }
        }
        8 => {
            // dictionary token inserted or overwritten
            if !t.dict.is_empty() {
                let tok = rng.pick(&t.dict).clone();
                let i = rng.below(input.len() + 1);
                if rng.chance(2) {
                    input.splice(i..i, tok);
                } else {
                    let end = (i + tok.len()).min(input.len());
                    input.splice(i..end, tok);
                }
            }
        }
        9 => {
            // ASCII number replaced by an interesting one
            replace_number(input, rng);
        }
        10 => {
            // swap two bytes
            if input.len() > 1 {
                let (i, j) = (rng.below(input.len()), rng.below(input.len()));
                input.swap(i, j);
            }
        }
        op => line_op(op - 11, input, t, rng),
    }
}

fn replace_number(input: &mut Vec<u8>, rng: &mut Rng) {
    let starts: Vec<usize> = (0..input.len())
        .filter(|&i| input[i].is_ascii_digit() && (i == 0 || !input[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let s = *rng.pick(&starts);
    let mut e = s;
    while e < input.len() && input[e].is_ascii_digit() {
        e += 1;
    }
    let num: Vec<u8> = if rng.chance(3) {
        // off by one
        let v: u128 = std::str::from_utf8(&input[s..e])
            .ok()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        let v = if rng.chance(2) {
            v.wrapping_add(1)
        } else {
            v.wrapping_sub(1)
        };
        v.to_string().into_bytes()
    } else {
        rng.pick(INTERESTING_NUMS).as_bytes().to_vec()
    };
    input.splice(s..e, num);
}

/// SDP-aware mutations on lines (split on LF, CR kept with the line).
fn line_op(op: usize, input: &mut Vec<u8>, t: &Target, rng: &mut Rng) {
    let mut lines: Vec<Vec<u8>> = input
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    match op {
        0 => {
            // duplicate a line, sometimes many times (candidate/m-line floods)
            let i = rng.below(lines.len());
            let times = if rng.chance(8) {
                1 + rng.below(2000)
            } else {
                1 + rng.below(3)
            };
            let l = lines[i].clone();
            let budget = t.max_len.saturating_sub(input.len()) / l.len().max(1);
            for _ in 0..times.min(budget) {
                lines.insert(i, l.clone());
            }
        }
        1 => {
            // delete a line
            let i = rng.below(lines.len());
            lines.remove(i);
        }
        2 => {
            // move a line
            let i = rng.below(lines.len());
            let l = lines.remove(i);
            let j = rng.below(lines.len() + 1);
            lines.insert(j, l);
        }
        3 => {
            // insert a dictionary line (those ending in a newline are lines)
            let full: Vec<&Vec<u8>> = t.dict.iter().filter(|d| d.ends_with(b"\n")).collect();
            if !full.is_empty() {
                let l = (*rng.pick(&full)).clone();
                let j = rng.below(lines.len() + 1);
                lines.insert(j, l);
            }
        }
        _ => {
            // replace a whitespace/colon separated token of one line
            let i = rng.below(lines.len());
            let l = &lines[i];
            let seps: Vec<usize> = (0..l.len())
                .filter(|&k| matches!(l[k], b' ' | b':' | b'/' | b'=' | b';'))
                .collect();
            if let Some(&s) = seps.get(rng.below(seps.len().max(1))) {
                let mut e = s + 1;
                while e < l.len()
                    && !matches!(l[e], b' ' | b':' | b'/' | b'=' | b';' | b'\r' | b'\n')
                {
                    e += 1;
                }
                let tok: Vec<u8> = if !t.dict.is_empty() && rng.chance(2) {
                    rng.pick(&t.dict)
                        .iter()
                        .copied()
                        .filter(|b| *b != b'\n' && *b != b'\r')
                        .collect()
                } else {
                    rng.pick(INTERESTING_NUMS).as_bytes().to_vec()
                };
                let mut nl = l[..s + 1].to_vec();
                nl.extend_from_slice(&tok);
                nl.extend_from_slice(&l[e..]);
                lines[i] = nl;
            }
            // and sometimes change every line end
            if rng.chance(16) {
                let end: &[u8] = [&b"\n"[..], b"\r\n", b"\r", b"\n\n", b""][rng.below(5)];
                for l in lines.iter_mut() {
                    while matches!(l.last(), Some(b'\n' | b'\r')) {
                        l.pop();
                    }
                    l.extend_from_slice(end);
                }
            }
        }
    }
    input.clear();
    for l in lines {
        input.extend_from_slice(&l);
    }
}
