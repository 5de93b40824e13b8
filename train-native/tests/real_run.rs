//! The short real run (`scripts/train-real-run.sh`): whisper-base student and
//! teacher on espeak-ng Catalan utterances; the loss falls, the exported pack changes the
//! runtime's tokens, and a run killed with SIGKILL and resumed reproduces the uninterrupted
//! run's metrics bit for bit. Ignored by default: on lavapipe (2 CPU cores) a whisper-base
//! training step takes minutes and the script runs about a dozen of them plus two
//! transcriptions, far beyond a CI budget. Run it with
//! `cargo test -p whisper-clsr-train --release --test real_run -- --ignored` (needs
//! espeak-ng, sox and models/whisper-base).

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "tens of minutes on lavapipe; run scripts/train-real-run.sh"]
fn real_run_on_whisper_base() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(root.join("scripts/train-real-run.sh"))
        .current_dir(&root)
        .status()
        .expect("run scripts/train-real-run.sh");
    assert!(
        status.success(),
        "scripts/train-real-run.sh failed: {status}"
    );
}
