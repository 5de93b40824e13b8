//! `whisper-clsr convert-ct2`.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The CTranslate2 model.bin.
    model: PathBuf,
    /// The model's tokenizer.json (copied into the output).
    #[arg(long)]
    tokenizer: PathBuf,
    /// The CTranslate2 config.json (suppression lists), if there is one.
    #[arg(long)]
    ct2_config: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<(), String> {
    eprintln!("converting {} ...", args.model.display());
    let summary = whisper_clsr::convert::convert_ct2(
        &args.model,
        &args.tokenizer,
        args.ct2_config.as_deref(),
        &args.out,
    )
    .map_err(|e| e.to_string())?;
    eprintln!("{summary}");
    Ok(())
}
