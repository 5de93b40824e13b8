#!/usr/bin/env bash
# One language of a many-language training run: what each task of a Slurm job array
# (scripts/cluster/slurm-train.sh) and each pod of a Kubernetes Indexed Job
# (scripts/cluster/k8s-train-job.yaml) runs. The task's index — SLURM_ARRAY_TASK_ID,
# JOB_COMPLETION_INDEX or WHISPER_CLSR_TASK_INDEX, counted from 0 — picks a line of
# $WHISPER_CLSR_SHARED/languages.txt; everything else lives on that shared storage:
#
#   languages.txt                 one language code per line (# comments and blank lines skipped)
#   models/student/               the student (Hugging Face layout); models/teacher/ if any
#   corpora/LANG/train.jsonl      the training manifest; corpora/LANG/valid.jsonl if any
#   runs/LANG/                    the run directory: checkpoint, metrics, the exported pack
#
# A task that is preempted, killed or requeued is simply started again: the trainer resumes
# from runs/LANG/checkpoint.safetensors exactly where it stopped. Arguments go to
# `whisper-clsr-train train` (e.g. --steps 20000 --batch 16); WHISPER_CLSR_TRAIN names the
# binary (default: whisper-clsr-train on PATH). See docs/cluster.md.
set -euo pipefail

die() { echo "train-one: error: $*" >&2; exit 2; }

shared=${WHISPER_CLSR_SHARED:-}
[[ -n $shared ]] || die "set WHISPER_CLSR_SHARED to the shared storage root (docs/cluster.md)"
index=${WHISPER_CLSR_TASK_INDEX:-${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-}}}
[[ -n $index ]] || die "no task index: run under a Slurm job array or a Kubernetes Indexed Job, or set WHISPER_CLSR_TASK_INDEX"
[[ $index =~ ^[0-9]+$ ]] || die "the task index must be a whole number, got '$index'"
list=$shared/languages.txt
[[ -f $list ]] || die "$list is missing: one language code per line"

mapfile -t languages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')
((index < ${#languages[@]})) || die "task $index has no language: $list lists ${#languages[@]} (tasks 0 to $((${#languages[@]} - 1)))"
language=${languages[index]}

train=$shared/corpora/$language/train.jsonl
[[ -f $train ]] || die "no training manifest for $language: $train is missing"
[[ -d $shared/models/student ]] || die "$shared/models/student is missing: the student model (Hugging Face layout)"
args=(train --language "$language" --student "$shared/models/student" --train "$train" --out "$shared/runs/$language")
[[ -d $shared/models/teacher ]] && args+=(--teacher "$shared/models/teacher")
[[ -f $shared/corpora/$language/valid.jsonl ]] && args+=(--valid "$shared/corpora/$language/valid.jsonl")
mkdir -p "$shared/runs/$language"

echo "train-one: task $index: $language, run directory $shared/runs/$language" >&2
exec "${WHISPER_CLSR_TRAIN:-whisper-clsr-train}" "${args[@]}" "$@"
