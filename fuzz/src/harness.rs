//! A mutation fuzzer that runs on the stable toolchain under `cargo test`: it replays the seed
//! corpus, then mutates corpus entries (bit flips, byte edits, deletions, duplications, splices,
//! dictionary tokens) for a fixed number of runs or a time budget. No coverage feedback (that
//! is what `scripts/fuzz.sh` and libFuzzer are for), so it is cheap enough for every CI run.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::targets::Target;

/// Mutated inputs stay this small, so a run covers many of them.
const MAX_INPUT: usize = 64 * 1024;
/// Inputs kept besides the seeds, to mutate further.
const POOL: usize = 512;

/// How long to fuzz.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Runs(u64),
    Time(Duration),
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub budget: Budget,
    pub seed: u64,
}

impl Settings {
    /// `FUZZ_SECONDS=n`: n seconds per target with a fresh random seed (printed); otherwise a
    /// fixed 2 000 runs from seed 0, the same every time. `FUZZ_SEED` replays a seed.
    pub fn from_env() -> Settings {
        let seconds = std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        let seed = std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        match seconds {
            Some(seconds) => Settings {
                budget: Budget::Time(Duration::from_secs(seconds)),
                seed: seed.unwrap_or_else(|| fastrand::u64(..)),
            },
            None => Settings {
                budget: Budget::Runs(2_000),
                seed: seed.unwrap_or(0),
            },
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub target: &'static str,
    pub seeds: usize,
    pub runs: u64,
    pub elapsed: Duration,
    pub seed: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuzz {}: {} seeds, {} runs in {:.1} s (FUZZ_SEED={})",
            self.target,
            self.seeds,
            self.runs,
            self.elapsed.as_secs_f64(),
            self.seed
        )
    }
}

/// An input that made the target panic, saved to `saved`.
#[derive(Debug)]
pub struct Crash {
    pub target: &'static str,
    pub message: String,
    pub saved: PathBuf,
    pub seed: u64,
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuzz target {} panicked: {}; input saved to {} (FUZZ_SEED={}); copy it into \
             fuzz/corpus/{}/ and `cargo test -p fuzz-targets --test fuzz {}` replays it",
            self.target,
            self.message,
            self.saved.display(),
            self.seed,
            self.target,
            self.target
        )
    }
}

/// The files of `dir`, sorted by name (a missing directory is an empty corpus).
pub fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

/// Replays `seeds`, then fuzzes `target` within `settings`; a panic is saved under `crash_dir`.
pub fn run(
    target: &'static Target,
    seeds: &[Vec<u8>],
    crash_dir: &Path,
    settings: Settings,
) -> Result<Report, Crash> {
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let crash = |input: &[u8], message: String| {
        let saved = save(crash_dir, target.name, input);
        Crash {
            target: target.name,
            message,
            saved,
            seed: settings.seed,
        }
    };
    for seed in seeds {
        if let Err(message) = execute(target, seed) {
            return Err(crash(seed, message));
        }
    }
    let mut runs = 0u64;
    loop {
        let done = match settings.budget {
            Budget::Runs(limit) => runs >= limit,
            // Checking the clock every 64 runs keeps it off the profile.
            Budget::Time(limit) => runs.is_multiple_of(64) && started.elapsed() >= limit,
        };
        if done {
            break;
        }
        let mut input = pool[rng.usize(..pool.len())].clone();
        for _ in 0..rng.usize(1..=4) {
            mutate(&mut rng, &mut input, &pool, target.dictionary);
        }
        input.truncate(MAX_INPUT);
        if let Err(message) = execute(target, &input) {
            return Err(crash(&input, message));
        }
        runs += 1;
        if rng.usize(..16) == 0 {
            if pool.len() < POOL + seeds.len() {
                pool.push(input);
            } else {
                let slot = seeds.len() + rng.usize(..POOL);
                pool[slot] = input;
            }
        }
    }
    Ok(Report {
        target: target.name,
        seeds: seeds.len(),
        runs,
        elapsed: started.elapsed(),
        seed: settings.seed,
    })
}

fn execute(target: &Target, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| (target.run)(input))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

fn save(dir: &Path, target: &str, input: &[u8]) -> PathBuf {
    // FNV-1a names the file by its content.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{target}-{hash:016x}"));
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(&path, input);
    path
}

/// One random edit of `input`.
pub fn mutate(
    rng: &mut fastrand::Rng,
    input: &mut Vec<u8>,
    pool: &[Vec<u8>],
    dictionary: &[&[u8]],
) {
    let len = input.len();
    match rng.u8(..9) {
        0 if len > 0 => {
            let at = rng.usize(..len);
            input[at] ^= 1 << rng.u8(..8);
        }
        1 if len > 0 => {
            let at = rng.usize(..len);
            input[at] = interesting_byte(rng);
        }
        2 => {
            let at = rng.usize(..=len);
            input.insert(at, interesting_byte(rng));
        }
        3 if len > 0 => {
            let start = rng.usize(..len);
            let end = (start + rng.usize(1..=16)).min(len);
            input.drain(start..end);
        }
        4 if len > 0 => {
            // Repeat a range several times: nesting and long runs.
            let start = rng.usize(..len);
            let end = (start + rng.usize(1..=8)).min(len);
            let piece = input[start..end].to_vec();
            let times = rng.usize(1..=64);
            let at = rng.usize(start..=len);
            let repeated: Vec<u8> = piece
                .iter()
                .copied()
                .cycle()
                .take(piece.len() * times)
                .collect();
            input.splice(at..at, repeated);
        }
        5 if !pool.is_empty() => {
            // Splice: our head, another input's tail.
            let other = &pool[rng.usize(..pool.len())];
            let cut = rng.usize(..=len);
            let from = rng.usize(..=other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        6 | 7 if !dictionary.is_empty() => {
            let token = dictionary[rng.usize(..dictionary.len())];
            let at = rng.usize(..=len);
            input.splice(at..at, token.iter().copied());
        }
        _ if len > 1 => {
            // Swap two bytes.
            let a = rng.usize(..len);
            let b = rng.usize(..len);
            input.swap(a, b);
        }
        _ => input.push(rng.u8(..)),
    }
}

fn interesting_byte(rng: &mut fastrand::Rng) -> u8 {
    const INTERESTING: &[u8] = &[
        0, 0x7f, 0x80, 0xff, b'\n', b' ', b'"', b'\'', b'[', b']', b'{', b'}', b'#', b':', b',',
        b'\\', b'=', 0xc0, 0xdd, 0xde, 0xd4,
    ];
    if rng.bool() {
        INTERESTING[rng.usize(..INTERESTING.len())]
    } else {
        rng.u8(..)
    }
}
