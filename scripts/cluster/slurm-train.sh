#!/usr/bin/env bash
# A Slurm job array training one language expert per task, all on shared storage (see
# scripts/cluster/train-one.sh for the layout and docs/cluster.md). Submit from the
# repository with one task per line of languages.txt:
#
#   export WHISPER_CLSR_SHARED=/shared/whisper-clsr
#   n=$(grep -cv '^\s*\(#\|$\)' "$WHISPER_CLSR_SHARED/languages.txt")
#   sbatch --array=0-$((n - 1)) scripts/cluster/slurm-train.sh --steps 20000 --batch 16
#
# --requeue lets Slurm restart a preempted task; it resumes from its checkpoint. Adjust the
# resources to the cluster (one GPU per language is what the trainer uses).
#SBATCH --job-name=whisper-clsr-experts
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=48:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=whisper-clsr-experts-%A_%a.log
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/../..}"
exec srun scripts/cluster/train-one.sh "$@"
