//! A teacher of another size than the student (width, heads, layers and mel bins), live
//! and as a teacher cache written by `teach`, on two short clips:
//! - at k = V the cached teacher gives the live teacher's losses and expert gradients;
//! - at small k the JS term is JS(p̃ ‖ q), p̃ the teacher's top k with the rest of its mass
//!   spread evenly (docs/training.md), against an f64 computation from the teacher's and
//!   the student's decoder outputs;
//! - a cache made for another corpus, tokenizer, τ, language or labels is refused;
//! - the CLI: `teach`, then `train --teacher-cache` with the teacher's directory gone.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::cli_run::{
    pack_training, succeed, tiny, training_lines, write_clips, write_models, BIN,
};
use whisper_clsr::audio::LogMel;
use whisper_clsr::eval::{read_corpus, Split};
use whisper_clsr::gpu::Gpu;
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::reference::{jensen_shannon, F64Whisper};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::clsr::TrainMode;
use whisper_clsr_train::data::{prepare, TokenizerKey};
use whisper_clsr_train::elementwise::fill;
use whisper_clsr_train::expert_layers::ExpertLayers;
use whisper_clsr_train::loss::topk_logits::TopKTensors;
use whisper_clsr_train::loss::vocab::IGNORE;
use whisper_clsr_train::run::{load_model, Loaded};
use whisper_clsr_train::student::{
    example_losses, forward, slot, teacher_forward, EncoderInput, Example, Objective, Pass,
    TeacherRun, Trainable,
};
use whisper_clsr_train::teach::{teach, TeachOptions};
use whisper_clsr_train::teacher_file::{corpus_fingerprint, TeacherFile};
use whisper_clsr_train::teacher_topk::TopKExample;
use whisper_clsr_train::trainer::{upload_input, Audio, Prepared, TrainConfig, Trainer};

const VOCAB: usize = 51865;

/// A tiny student (d 64, 1 head, 1 + 1 layers, 80 mel bins) and a larger teacher (d 128,
/// 2 heads, 1 + 2 layers, 128 mel bins), both with whisper-base's tokenizer, and a
/// manifest of two clips in Catalan.
fn setup(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (student, teacher) = write_models(
        root,
        [&tiny(64, 1, 1, 80), &tiny(128, 2, 2, 128)],
        safetensors::Dtype::F32,
        [201, 202],
    );
    let manifest = write_clips(root, [0.6, 0.4], ["Bon dia.", "Gràcies."]);
    (student, teacher, manifest)
}

/// Every expert gradient of `trainer`, concatenated, and then zeroed.
fn take_grads(gpu: &Gpu, trainer: &Trainer) -> Vec<f32> {
    let mut out = Vec::new();
    for e in &trainer.experts {
        for p in e.values() {
            out.extend(read(gpu, &p.grad));
            fill(gpu, &p.grad, 0.0);
        }
    }
    out
}

/// The losses tensor of one example (`pass`) against `teacher`.
#[allow(clippy::too_many_arguments)]
fn losses(
    gpu: &Gpu,
    student: &Loaded,
    trainer: &Trainer,
    modes: &[TrainMode],
    ex: &Prepared,
    teacher: &TeacherRun,
    obj: &Objective,
    pass: Pass,
) -> Vec<f32> {
    let x = upload_input(gpu, &student.model, &ex.student).unwrap();
    let example = Example {
        encoder: EncoderInput::Stem(&x),
        tokens: &ex.tokens,
        targets: &ex.targets,
    };
    let t = example_losses(
        gpu,
        &student.model,
        Trainable {
            experts: &trainer.experts,
            modes,
            layers: ExpertLayers::All,
        },
        Some(teacher),
        &example,
        obj,
        pass,
    )
    .unwrap();
    read(gpu, &t)
}

fn live<'a>(gpu: &Gpu, teacher: &'a Loaded, ex: &Prepared) -> TeacherRun<'a> {
    let audio = ex
        .teacher
        .as_ref()
        .expect("the teacher has its own mel bins");
    assert!(matches!(audio, Audio::Mel(m) if m.len() == 128 * 3000));
    let tx = upload_input(gpu, &teacher.model, audio).unwrap();
    teacher_forward(gpu, &teacher.model, &tx, &ex.tokens).unwrap()
}

/// An example's rows of a teacher cache, on the GPU.
fn cached(gpu: &Gpu, rows: &TopKExample) -> TeacherRun<'static> {
    TeacherRun::TopK(TopKTensors::upload(gpu, rows).unwrap())
}

#[test]
fn a_cached_teacher_of_another_size_matches_the_live_one_and_its_top_k_approximation() {
    let start = std::time::Instant::now();
    let gpu = gpu();
    let root = std::env::temp_dir().join(format!("train-teacher-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let (sdir, tdir, manifest) = setup(&root);
    let tau = 2.0;
    let obj = Objective {
        tau,
        ..Objective::default()
    };
    let opts = |k: usize, name: &str| TeachOptions {
        teacher: tdir.clone(),
        language: "ca".into(),
        train: manifest.display().to_string(),
        out: root.join(name),
        top_k: k,
        tau,
        max_duration: 30.0,
        strict: true,
    };
    let (full_opts, small_opts) = (
        opts(VOCAB, "full.safetensors"),
        opts(5, "small.safetensors"),
    );
    let full = teach(&gpu, &full_opts).unwrap();
    let small = teach(&gpu, &small_opts).unwrap();
    assert_eq!(
        TeacherFile::read(&full_opts.out).unwrap(),
        full,
        "round trip"
    );
    assert_eq!(
        TeacherFile::read(&small_opts.out).unwrap(),
        small,
        "round trip"
    );
    eprintln!("teach twice: {:?}", start.elapsed());

    let student = load_model(&gpu, &sdir).unwrap();
    let teacher = load_model(&gpu, &tdir).unwrap();
    let c = student.model.config.clone();
    let entries = read_corpus(&manifest.display().to_string(), Split::Train).unwrap();
    let (mel, tmel) = (LogMel::new(80).unwrap(), LogMel::new(128).unwrap());
    let examples: Vec<Prepared> = entries
        .iter()
        .map(|e| prepare(e, "ca", &student.text, &mel, Some(&tmel), 32).unwrap())
        .collect();
    let targets: Vec<Vec<u32>> = examples.iter().map(|e| e.targets.clone()).collect();
    let index = full
        .index_clips(&full_opts.out, &entries, &targets)
        .unwrap();
    assert_eq!(index, [0, 1]);
    assert_eq!(
        small
            .index_clips(&small_opts.out, &entries, &targets)
            .unwrap(),
        [0, 1]
    );

    let pack = ExpertPack::init_from_base(&c, &student.file, "ca").unwrap();
    let trainer = Trainer::new(
        &gpu,
        &student.model,
        &pack,
        TrainConfig {
            seed: 9,
            ..TrainConfig::default()
        },
    )
    .unwrap();
    // The loss slots of the student on `ex` with `teacher` (its gradients stay in `trainer`).
    let student_losses = |modes: &[TrainMode], ex: &Prepared, teacher: &TeacherRun, pass| {
        losses(&gpu, &student, &trainer, modes, ex, teacher, &obj, pass)
    };

    // k = V: the same losses and gradients as the live teacher (training mode, seeded).
    let modes = trainer.modes(0);
    let mut teacher_hidden = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        let run = live(&gpu, &teacher, ex);
        let want = student_losses(&modes, ex, &run, Pass::Train);
        let TeacherRun::Live { hidden, .. } = run else {
            unreachable!("a live teacher")
        };
        teacher_hidden.push(f64s(&read(&gpu, &hidden)));
        let want_grads = take_grads(&gpu, &trainer);
        let got = student_losses(&modes, ex, &cached(&gpu, &full.example(i)), Pass::Train);
        let got_grads = take_grads(&gpu, &trainer);
        assert!(want[slot::JS] > 0.0, "the teacher takes part: {want:?}");
        for (name, s) in [("CE", slot::CE), ("JS", slot::JS), ("budget", slot::BUDGET)] {
            let (w, g) = (want[s] as f64, got[s] as f64);
            assert!(
                (w - g).abs() <= 1e-5 * w.abs(),
                "clip {i} {name}: live {w} vs cached top-{VOCAB} {g}"
            );
        }
        let scale = want_grads.iter().fold(0f32, |m, g| m.max(g.abs()));
        assert!(scale > 0.0);
        let worst = want_grads
            .iter()
            .zip(&got_grads)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!(
            "clip {i}: JS {} vs {}, worst gradient difference {worst:e} of {scale:e}",
            want[slot::JS],
            got[slot::JS]
        );
        assert!(
            worst <= 1e-5 * scale,
            "clip {i}: gradients differ by {worst} (largest {scale})"
        );
    }

    // Small k: the documented approximation, against f64.
    let eval: Vec<TrainMode> = (0..trainer.experts.len() as u32)
        .map(TrainMode::evaluation)
        .collect();
    let (snet, tnet) = (F64Whisper::load(&sdir), F64Whisper::load(&tdir));
    let k = 5;
    for (i, ex) in examples.iter().enumerate() {
        let rows = small.example(i);
        let got = student_losses(&eval, ex, &cached(&gpu, &rows), Pass::Evaluate)[slot::JS] as f64;
        // The student's and the teacher's decoder outputs, then everything in f64.
        let x = upload_input(&gpu, &student.model, &ex.student).unwrap();
        let f = forward(
            &gpu,
            &student.model,
            EncoderInput::Stem(&x),
            &ex.tokens,
            Some(Trainable {
                experts: &trainer.experts,
                modes: &eval,
                layers: ExpertLayers::All,
            }),
        )
        .unwrap();
        let lq = snet.log_probs(&f64s(&read(&gpu, &f.hidden)), tau as f64);
        let lp = tnet.log_probs(&teacher_hidden[i], tau as f64);
        let (mut approx, mut exact, mut count) = (0.0, 0.0, 0.0);
        for (r, &t) in ex.targets.iter().enumerate() {
            if t == IGNORE {
                continue;
            }
            let mut order: Vec<usize> = (0..VOCAB).collect();
            order.sort_by(|&a, &b| lp[r][b].total_cmp(&lp[r][a]));
            let top = &order[..k];
            let stored: Vec<usize> = rows.ids[r * k..(r + 1) * k]
                .iter()
                .map(|&id| id as usize)
                .collect();
            assert_eq!(stored, top, "clip {i} position {r}: the teacher's top {k}");
            let tail_mass: f64 = order[k..].iter().map(|&j| lp[r][j].exp()).sum();
            let spread = (tail_mass / (VOCAB - k) as f64).ln();
            let mut p_tilde = vec![spread; VOCAB];
            for &j in top {
                p_tilde[j] = lp[r][j];
            }
            approx += jensen_shannon(&p_tilde, &lq[r]);
            exact += jensen_shannon(&lp[r], &lq[r]);
            count += 1.0;
        }
        let scale = obj.js as f64 * (tau as f64).powi(2) / count;
        let (approx, exact) = (approx * scale, exact * scale);
        eprintln!("clip {i}: top-{k} JS GPU {got} vs f64 {approx} (exact teacher: {exact})");
        assert!(
            (got - approx).abs() <= 1e-4 * approx,
            "clip {i}: GPU {got} vs f64 {approx}"
        );
        assert!(
            (approx - exact).abs() > 1e-3 * exact,
            "clip {i}: the top-{k} approximation {approx} should differ from the exact {exact}"
        );
    }

    // Refusals: another corpus, tokenizer, τ, language; other labels.
    let key = TokenizerKey::of(&student.text.whisper);
    let fp = corpus_fingerprint(&entries);
    let path = &small_opts.out;
    small
        .check_fits(path, "train.jsonl", &fp, &key, tau, "ca")
        .unwrap();
    let refusal = |r: whisper_clsr::Result<()>| r.unwrap_err().to_string();
    let mut other = entries.clone();
    other[1].text = "Moltes gràcies.".into();
    let e = refusal(small.check_fits(
        path,
        "other.jsonl",
        &corpus_fingerprint(&other),
        &key,
        tau,
        "ca",
    ));
    assert!(
        e.contains("was computed for the corpus") && e.contains("other.jsonl"),
        "{e}"
    );
    let mut en = key.clone();
    en.vocab_size -= 1;
    en.sot -= 1;
    let e = refusal(small.check_fits(path, "train.jsonl", &fp, &en, tau, "ca"));
    assert!(
        e.contains("vocabulary 51864") && e.contains("vocabulary 51865"),
        "{e}"
    );
    let e = refusal(small.check_fits(path, "train.jsonl", &fp, &key, 1.0, "ca"));
    assert!(e.contains("temperature 2") && e.contains("--tau"), "{e}");
    let e = refusal(small.check_fits(path, "train.jsonl", &fp, &key, tau, "es"));
    assert!(e.contains("--language es"), "{e}");
    let mut relabelled = targets.clone();
    relabelled[0][4] += 1;
    let e = small
        .index_clips(path, &entries, &relabelled)
        .unwrap_err()
        .to_string();
    assert!(e.contains("labels of") && e.contains("a.wav"), "{e}");
    // A file that is not a cache.
    let e = TeacherFile::read(&sdir.join("model.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a teacher cache"), "{e}");

    // The CLI trains from the cache without the teacher's directory, and refuses the cache
    // for another corpus.
    std::fs::rename(&tdir, root.join("teacher-gone")).unwrap();
    let train = |manifest: &Path, out: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "train",
            "--language",
            "ca",
            "--tau",
            "2",
            "--steps",
            "1",
            "--batch",
            "2",
        ])
        .arg("--student")
        .arg(&sdir)
        .arg("--teacher-cache")
        .arg(&small_opts.out)
        .arg("--train")
        .arg(manifest)
        .arg("--out")
        .arg(root.join(out))
        .env("WGPU_BACKEND", "vulkan");
        cmd
    };
    let stderr = succeed(&mut train(&manifest, "run"));
    assert!(stderr.contains("teacher cache: top-5 of 51865"), "{stderr}");
    let lines = training_lines(&root.join("run"));
    assert!(lines[0]["js"].as_f64().unwrap() > 0.0, "{lines:?}");
    let t = pack_training(&root.join("run/ca.pack.safetensors"));
    assert_eq!(
        t["teacher_cache"],
        small_opts.out.display().to_string(),
        "{t}"
    );
    let other = root.join("other.jsonl");
    std::fs::write(
        &other,
        "{\"audio\": \"a.wav\", \"text\": \"Bona nit.\", \"language\": \"ca\"}\n",
    )
    .unwrap();
    let out = train(&other, "refused").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("was computed for the corpus"), "{stderr}");
    eprintln!("whole test: {:?}", start.elapsed());
    std::fs::remove_dir_all(&root).ok();
}
